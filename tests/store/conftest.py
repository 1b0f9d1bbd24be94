"""Fixtures of the store tests: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def engine(store_url):
    """The store, opened (and migrated) with :func:`skysift.store.database.open_store`."""
    from skysift.store.database import open_store

    eng = open_store(store_url)
    yield eng
    eng.dispose()
