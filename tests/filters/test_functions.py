"""The SQLite implementations of the filter functions, and their registration."""

from __future__ import annotations

import math
import sqlite3
import time

import pytest
import sqlalchemy as sa

from skysift.store.functions import (
    FUNCTIONS,
    flux2mag,
    install,
    mjdnow,
    register_sqlite_functions,
)


@pytest.fixture
def conn():
    c = sqlite3.connect(":memory:")
    register_sqlite_functions(c)
    yield c
    c.close()


def one(conn, expression):
    return conn.execute(f"SELECT {expression}").fetchone()[0]


def test_mjdnow_is_unix_time_over_a_day_plus_40587():
    assert abs(mjdnow() - (time.time() / 86400 + 40587)) < 1e-6
    assert 60000 < mjdnow() < 80000


def test_flux2mag_is_ab_magnitude_of_nanojansky():
    assert flux2mag(10 ** ((31.4 - 20.0) / 2.5)) == pytest.approx(20.0)
    assert flux2mag(1.0) == pytest.approx(31.4)
    assert flux2mag(0) is None and flux2mag(-1.0) is None and flux2mag(None) is None
    # floats (REAL columns) take a short path: the same values, and None where there is none
    assert flux2mag(0.0) is None and flux2mag(-0.0) is None and flux2mag(float("nan")) is None
    assert flux2mag(float("inf")) == -math.inf
    assert flux2mag(3630) == flux2mag(3630.0) == -2.5 * math.log10(3630) + 31.4


@pytest.mark.parametrize("expression, expected", [
    ("flux2mag(10000.0)", 21.4),
    ("flux2mag(0)", None),
    ("flux2mag(-3.5)", None),
    ("sqrt(16)", 4.0),
    ("sqrt(-1)", None),
    ("log10(1000)", 3.0),
    ("log10(0)", None),
    ("ln(1)", 0.0),
    ("ln(-2)", None),
    ("log(2, 8)", 3.0),
    ("log(1, 8)", None),
    ("log(2, 0)", None),
    ("exp(0)", 1.0),
    ("exp(1000)", None),
    ("exp(-1000)", 0.0),
    ("power(2, 10)", 1024.0),
    ("power(-8, 0.5)", None),
    ("power(0, -1)", None),
    ("power(-2, 3)", -8.0),
    ("power(10, 400)", None),
    ("round(2.5, 0)", 3.0),
    ("round(-2.5, 0)", -3.0),
    ("round(2.675, 2)", 2.68),
    ("round(1234.5, -2)", 1200.0),
    ("floor(-1.5)", -2.0),
    ("ceil(1.2)", 2.0),
    ("floor(NULL)", None),
])
def test_sqlite_functions_return_null_outside_their_domain(conn, expression, expected):
    assert one(conn, expression) == expected


def test_mjdnow_in_sql(conn):
    assert abs(one(conn, "mjdnow()") - mjdnow()) < 1e-6


def test_non_numbers_are_an_error_not_a_guess(conn):
    with pytest.raises(sqlite3.OperationalError, match="user-defined function raised exception"):
        one(conn, "flux2mag('abc')")


def test_every_allowed_function_is_documented():
    for spec in FUNCTIONS.values():
        assert spec.doc and spec.min_args >= 0


def test_install_registers_on_every_new_sqlite_connection(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    install(engine)
    install(engine)  # twice is harmless
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT flux2mag(10000.0)").scalar() == pytest.approx(21.4)
        assert math.isclose(c.exec_driver_sql("SELECT mjdnow()").scalar(), mjdnow(), abs_tol=1e-5)
    engine.dispose()
