"""The SQL functions a filter may call, and their SQLite implementations.

Every allowed function is listed in :data:`FUNCTIONS` with its arity and a one-line description
(docs/filters.md is the long form). The validator rewrites each call to its canonical lower-case
name; :mod:`skysift.filters.compile` then emits it for SQLite (the Python implementations below,
registered on each connection) or PostgreSQL (native expressions guarded so that they return NULL
where MySQL would, instead of raising).

The rule for both engines: a function whose argument is outside its domain returns NULL
(``log`` of a non-positive number, ``sqrt`` of a negative one, ``flux2mag`` of a flux <= 0,
``power`` giving a complex or infinite result, ``exp`` overflowing), as Lasair's MySQL does.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "FUNCTIONS",
    "POSTGRES_FUNCTIONS",
    "FunctionSpec",
    "flux2mag",
    "install",
    "install_postgres_functions",
    "mjdnow",
    "register_sqlite_functions",
]

MJD_UNIX_EPOCH = 40587  # MJD of 1970-01-01
EXP_MAX = 709.78  # exp() above this overflows a double: NULL
EXP_MIN = -708.0  # exp() below this underflows: 0.0 (PostgreSQL raises instead)


@dataclass(frozen=True)
class FunctionSpec:
    """One allowed function: canonical name, arity range (max None = any), description."""

    name: str
    min_args: int
    max_args: int | None
    doc: str


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("mjdnow", 0, 0, "the current time as a Modified Julian Date"),
        FunctionSpec("flux2mag", 1, 1,
                     "AB magnitude of a flux in nJy: -2.5*log10(flux)+31.4; NULL if flux <= 0"),
        FunctionSpec("abs", 1, 1, "absolute value"),
        FunctionSpec("sqrt", 1, 1, "square root; NULL for a negative number"),
        FunctionSpec("log10", 1, 1, "base-10 logarithm; NULL for x <= 0"),
        FunctionSpec("ln", 1, 1, "natural logarithm (also LOG(x), as in MySQL); NULL for x <= 0"),
        FunctionSpec("log", 2, 2,
                     "LOG(b, x): logarithm of x in base b; NULL if x <= 0, b <= 0 or b = 1"),
        FunctionSpec("exp", 1, 1, "e to the power x; NULL if it overflows"),
        FunctionSpec("power", 2, 2,
                     "POWER(x, y) or POW(x, y); NULL if complex, undefined or too large"),
        FunctionSpec("round", 1, 2,
                     "ROUND(x[, d]): half away from zero to d decimals (d may be negative)"),
        FunctionSpec("floor", 1, 1, "largest integer <= x (as a float)"),
        FunctionSpec("ceil", 1, 1, "CEIL(x) or CEILING(x): smallest integer >= x (as a float)"),
        FunctionSpec("greatest", 2, None, "the largest argument; NULL if any is NULL"),
        FunctionSpec("least", 2, None, "the smallest argument; NULL if any is NULL"),
        FunctionSpec("coalesce", 1, None,
                     "COALESCE(a, b, ...) or IFNULL(a, b): the first non-NULL"),
        FunctionSpec("lower", 1, 1, "text in lower case"),
        FunctionSpec("json_extract", 2, 2,
                     "JSON_EXTRACT(annotator.classdict, '$.key'): a value inside a JSON column"),
        FunctionSpec("upper", 1, 1, "text in upper case"),
    )
}


# --------------------------------------------------------------------------- implementations
def _num(value: Any, fname: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"{fname}() needs a number, not {type(value).__name__}")


def mjdnow() -> float:
    """The current time as a Modified Julian Date (unix time / 86400 + 40587).

    Examples
    --------
    >>> mjdnow() > 60000
    True
    """
    return time.time() / 86400.0 + MJD_UNIX_EPOCH


def flux2mag(flux: Any) -> float | None:
    """AB magnitude of a flux in nanojansky; None for None or a flux <= 0.

    Examples
    --------
    >>> flux2mag(10000.0)  # 10 microjansky
    21.4
    >>> flux2mag(0) is None, flux2mag(-5.0) is None
    (True, True)
    """
    if type(flux) is float:  # the common case (a REAL column), once per row and filter
        return -2.5 * math.log10(flux) + 31.4 if flux > 0 else None
    x = _num(flux, "flux2mag")
    if x is None or not x > 0:
        return None
    return -2.5 * math.log10(x) + 31.4


def _sqrt(x: Any) -> float | None:
    v = _num(x, "sqrt")
    return None if v is None or v < 0 else math.sqrt(v)


def _log10(x: Any) -> float | None:
    v = _num(x, "log10")
    return None if v is None or not v > 0 else math.log10(v)


def _ln(x: Any) -> float | None:
    v = _num(x, "ln")
    return None if v is None or not v > 0 else math.log(v)


def _log(base: Any, x: Any) -> float | None:
    b, v = _num(base, "log"), _num(x, "log")
    if b is None or v is None or not b > 0 or b == 1 or not v > 0:
        return None
    return math.log(v) / math.log(b)


def _exp(x: Any) -> float | None:
    v = _num(x, "exp")
    if v is None or v > EXP_MAX:
        return None
    return 0.0 if v < EXP_MIN else math.exp(v)


def _power(x: Any, y: Any) -> float | None:
    a, b = _num(x, "power"), _num(y, "power")
    if a is None or b is None:
        return None
    if (a == 0 and b < 0) or (a < 0 and b != math.floor(b)):
        return None
    try:
        return math.pow(a, b)
    except OverflowError:
        return None


_ROUND_CONTEXT = Context(prec=1000)


def _round(x: Any, digits: Any = 0) -> float | None:
    v = _num(x, "round")
    if v is None or digits is None:
        return None
    if not math.isfinite(v):
        return v
    exponent = Decimal(1).scaleb(-int(digits))
    try:
        out = Decimal(repr(v)).quantize(exponent, rounding=ROUND_HALF_UP, context=_ROUND_CONTEXT)
    except InvalidOperation:
        return v
    return float(out)


def _floor(x: Any) -> float | None:
    v = _num(x, "floor")
    return None if v is None else float(math.floor(v)) if math.isfinite(v) else v


def _ceil(x: Any) -> float | None:
    v = _num(x, "ceil")
    return None if v is None else float(math.ceil(v)) if math.isfinite(v) else v


#: name -> (number of arguments, implementation, deterministic). Registered on SQLite connections.
SQLITE_IMPLEMENTATIONS: dict[str, tuple[int, Callable[..., Any], bool]] = {
    "mjdnow": (0, mjdnow, False),
    "flux2mag": (1, flux2mag, True),
    "sqrt": (1, _sqrt, True),
    "log10": (1, _log10, True),
    "ln": (1, _ln, True),
    "log": (2, _log, True),
    "exp": (1, _exp, True),
    "power": (2, _power, True),
    "round": (2, _round, True),
    "floor": (1, _floor, True),
    "ceil": (1, _ceil, True),
}


def register_sqlite_functions(dbapi_connection: sqlite3.Connection) -> None:
    """Register skysift's SQL functions on a :mod:`sqlite3` connection.

    ``mjdnow()``, ``flux2mag(x)`` and the guarded maths functions (``sqrt, log10, ln, log(b, x),
    exp, power, round(x, d), floor, ceil``; these replace SQLite's own so that both engines give
    the same NULLs). ``abs, coalesce, lower, upper`` are SQLite's; ``greatest``/``least`` compile
    to SQLite's multi-argument ``max``/``min``.

    Parameters
    ----------
    dbapi_connection
        A :class:`sqlite3.Connection` (for SQLAlchemy, the raw DBAPI connection).
    """
    for name, (nargs, func, deterministic) in SQLITE_IMPLEMENTATIONS.items():
        dbapi_connection.create_function(name, nargs, func, deterministic=deterministic)


def install(engine: Any) -> None:
    """Register the functions on every new connection of a SQLAlchemy SQLite ``engine``.

    Does nothing for other databases (PostgreSQL gets native expressions at compile time).
    Connections already in the pool are not touched: call this right after ``create_engine``.
    """
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return
    if not event.contains(engine, "connect", _on_connect):
        event.listen(engine, "connect", _on_connect)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    register_sqlite_functions(dbapi_connection)


#: The PostgreSQL side of the guarded functions: SQL functions (IMMUTABLE, so the planner may
#: inline them) that the compiler calls with each argument written once. Inline templates that
#: repeat their argument grow exponentially with nesting (``exp(exp(exp(...)))``: 3^depth).
#: Created by migration 0004 (a frozen copy); :func:`install_postgres_functions` creates them
#: on a database made without the migrations (engine tests).
POSTGRES_FUNCTIONS: dict[str, str] = {
    "flux2mag": "(a double precision) RETURNS double precision AS "
                "$$ SELECT CASE WHEN a > 0 THEN -2.5 * log(a) + 31.4 END $$",
    "log10": "(a double precision) RETURNS double precision AS "
             "$$ SELECT CASE WHEN a > 0 THEN log(a) END $$",
    "ln": "(a double precision) RETURNS double precision AS "
          "$$ SELECT CASE WHEN a > 0 THEN ln(a) END $$",
    "log": "(b double precision, x double precision) RETURNS double precision AS "
           "$$ SELECT CASE WHEN b > 0 AND b <> 1 AND x > 0 THEN ln(x) / ln(b) END $$",
    "sqrt": "(a double precision) RETURNS double precision AS "
            "$$ SELECT CASE WHEN a >= 0 THEN sqrt(a) END $$",
    "exp": "(a double precision) RETURNS double precision AS "
           f"$$ SELECT CASE WHEN a > {EXP_MAX} THEN NULL WHEN a < {EXP_MIN} THEN 0.0 "
           "ELSE exp(a) END $$",
    "power": "(a double precision, b double precision) RETURNS double precision AS "
             "$$ SELECT CASE WHEN (a = 0 AND b < 0) OR (a < 0 AND b <> floor(b)) THEN NULL "
             "ELSE power(a, b) END $$",
    "greatest": "(VARIADIC xs anycompatiblearray) RETURNS anycompatible AS "
                "$$ SELECT CASE WHEN array_position(xs, NULL) IS NULL "
                "THEN (SELECT max(x) FROM unnest(xs) AS u(x)) END $$",
    "least": "(VARIADIC xs anycompatiblearray) RETURNS anycompatible AS "
             "$$ SELECT CASE WHEN array_position(xs, NULL) IS NULL "
             "THEN (SELECT min(x) FROM unnest(xs) AS u(x)) END $$",
}
#: Prefix of their names in the database.
POSTGRES_PREFIX = "skysift_"


def postgres_function_ddl() -> list[str]:
    """``CREATE OR REPLACE FUNCTION`` statements of :data:`POSTGRES_FUNCTIONS`."""
    return [f"CREATE OR REPLACE FUNCTION {POSTGRES_PREFIX}{name}{body} "
            "LANGUAGE sql IMMUTABLE PARALLEL SAFE"
            for name, body in POSTGRES_FUNCTIONS.items()]


def install_postgres_functions(connection: Any) -> None:
    """Create the PostgreSQL functions on a SQLAlchemy connection (idempotent)."""
    for statement in postgres_function_ddl():
        connection.exec_driver_sql(statement)
