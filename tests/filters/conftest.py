"""Fixtures for filter tests.

- ``catalogue``: the product's allow-list, the catalogue every user filter is validated against
  (:func:`skysift.filters.catalogue.catalogue`). Validation and security tests use it.
- ``mechanics_catalogue``: a made-up catalogue (tests/filters/mechanics_catalogue.py) with a
  test-only ``sleep(seconds)`` function, for tests of engine mechanics only (test_engine.py).
"""

from __future__ import annotations

import pytest
from mechanics_catalogue import mechanics_catalogue as _mechanics_catalogue

from skysift.filters.catalogue import catalogue as product_catalogue


@pytest.fixture(scope="session")
def catalogue():
    """The product's catalogue: objects and the context tables, no extra functions."""
    return product_catalogue()


@pytest.fixture(scope="session")
def mechanics_catalogue():
    """The made-up engine-mechanics catalogue, plus the test-only ``sleep`` function."""
    return _mechanics_catalogue(extra_functions=("sleep",))
