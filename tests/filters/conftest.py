"""Fixtures for filter tests: the LSST-like catalogue and a store with objects rows in it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lsst_catalogue import lsst_catalogue


@pytest.fixture(scope="session")
def catalogue():
    """The user-facing catalogue: no extra functions."""
    return lsst_catalogue()


@pytest.fixture(scope="session")
def test_catalogue():
    """The same tables, plus a test-only ``sleep(seconds)`` function for timeout tests."""
    return lsst_catalogue(extra_functions=("sleep",))


from sleepers import PG_SLEEP_FUNCTION, sqlite_sleep  # noqa: E402,F401
