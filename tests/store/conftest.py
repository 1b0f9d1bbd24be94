"""Fixtures of the store tests: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture
def engine(store_url):
    """The store, opened (and migrated) with :func:`skysift.store.database.open_store`."""
    from skysift.store.database import open_store

    eng = open_store(store_url)
    yield eng
    eng.dispose()
