"""Run compiled filter SQL read-only, with a deadline and a row cap.

:func:`run_query` runs on a SQLAlchemy connection to the store (SQLite file or PostgreSQL);
:class:`~skysift.filters.batch.BatchEngine` (built on this module) runs every active filter over one
batch in an in-memory SQLite database.

- PostgreSQL: the query runs in its own transaction (or a savepoint, if the connection is already
  in one) set ``READ ONLY`` with ``SET LOCAL statement_timeout``; it is always rolled back, so the
  connection comes back as it was, also after an error. Rows are streamed (server-side cursor).
- SQLite: a progress handler aborts the query at the deadline; ``PRAGMA query_only`` and an
  authorizer that allows only reads and function calls guard against writes. Both are removed
  (and query_only restored) afterwards.

Rows are read with ``fetchmany(row_cap + 1)``, so :attr:`QueryResult.truncated` is exact.
Values come back as the database gives them, except that PostgreSQL ``numeric`` becomes float
and ``boolean`` becomes 0/1, as on SQLite (and in Lasair's MySQL).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from skysift.errors import FilterError, FilterTimeout, StoreUnavailable
from skysift.store.translate import db_error, is_transient_db_error
from skysift.store.functions import register_sqlite_functions

__all__ = ["PROGRESS_STEPS", "QueryResult", "execute_sqlite", "run_query"]

#: SQLite virtual-machine steps between deadline checks.
PROGRESS_STEPS = 100
QUERY_CANCELED = "57014"  # PostgreSQL SQLSTATE of statement_timeout

_READ_ACTIONS = frozenset({
    sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
})


@dataclass(frozen=True)
class QueryResult:
    """The rows of one filter run (at most ``row_cap``) and whether more were there."""

    rows: list[dict[str, Any]]
    truncated: bool
    elapsed_s: float


def run_query(
    connection: Any,
    sql: str,
    *,
    dialect: Literal["sqlite", "postgresql"],
    timeout_s: float,
    row_cap: int,
    filter_name: str | None = None,
) -> QueryResult:
    """Run compiled filter SQL on a SQLAlchemy :class:`~sqlalchemy.engine.Connection`.

    Parameters
    ----------
    connection
        An open SQLAlchemy Connection; left in the state it was given in.
    sql
        Text from :func:`skysift.filters.compile.compile_filter` for the same dialect.
    dialect
        ``"sqlite"`` or ``"postgresql"``.
    timeout_s
        The deadline, in seconds.
    row_cap
        The most rows to return; ``truncated`` says whether there were more.
    filter_name
        Carried in errors as ``filter=``.

    Raises
    ------
    FilterTimeout
        The query ran past ``timeout_s``.
    FilterError
        The database raised an error while running it (e.g. a type error on PostgreSQL).
    """
    if row_cap < 0 or timeout_s <= 0:
        raise ValueError("row_cap must be >= 0 and timeout_s > 0")
    if dialect == "sqlite":
        raw = connection.connection.driver_connection
        _ensure_functions(raw)
        return _run_sqlite_sandboxed(raw, sql, timeout_s, row_cap, filter_name)
    if dialect == "postgresql":
        return _run_postgres(connection, sql, timeout_s, row_cap, filter_name)
    raise ValueError(f"dialect must be 'sqlite' or 'postgresql', not {dialect!r}")


# ------------------------------------------------------------------------------------ SQLite
def execute_sqlite(
    conn: sqlite3.Connection,
    sql: str,
    *,
    row_cap: int,
    filter_name: str | None,
    started: float,
) -> QueryResult:
    """Execute and fetch on a sqlite3 connection whose progress handler enforces the deadline."""
    cursor = conn.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchmany(row_cap + 1)
        names = [d[0] for d in cursor.description or ()]
    except sqlite3.Error as exc:
        if "interrupted" in str(exc):
            raise FilterTimeout("the filter ran past its deadline", filter=filter_name) from exc
        if "locked" in str(exc) or "busy" in str(exc):  # the store's lock, not the filter
            raise StoreUnavailable(f"cannot run the filter now: {exc}",
                                   filter=filter_name) from exc
        raise FilterError(f"the filter failed: {exc}", filter=filter_name) from exc
    finally:
        cursor.close()
    truncated = len(rows) > row_cap
    out = [dict(zip(names, row, strict=True)) for row in (rows[:row_cap] if truncated else rows)]
    return QueryResult(rows=out, truncated=truncated, elapsed_s=time.perf_counter() - started)


def _deny_writes(action: int, *_args: Any) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


def _run_sqlite_sandboxed(
    conn: sqlite3.Connection, sql: str, timeout_s: float, row_cap: int, filter_name: str | None
) -> QueryResult:
    started = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    previous = conn.execute("PRAGMA query_only").fetchone()[0]
    conn.execute("PRAGMA query_only = 1")
    conn.set_authorizer(_deny_writes)
    conn.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    try:
        return execute_sqlite(conn, sql, row_cap=row_cap, filter_name=filter_name, started=started)
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)
        conn.execute(f"PRAGMA query_only = {1 if previous else 0}")


def _ensure_functions(raw: sqlite3.Connection) -> None:
    """Register mjdnow(), flux2mag()... on a store connection that lacks them."""
    try:
        raw.execute("SELECT flux2mag(1.0)").fetchone()
    except sqlite3.OperationalError:
        register_sqlite_functions(raw)


# -------------------------------------------------------------------------------- PostgreSQL
def _run_postgres(
    connection: Any, sql: str, timeout_s: float, row_cap: int, filter_name: str | None
) -> QueryResult:
    from sqlalchemy.exc import DBAPIError

    started = time.perf_counter()
    nested = connection.in_transaction()
    transaction = connection.begin_nested() if nested else connection.begin()
    try:
        if nested:
            connection.exec_driver_sql("SET LOCAL transaction_read_only = on")
        else:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        result = connection.exec_driver_sql(
            sql, execution_options={"yield_per": row_cap + 1, "no_parameters": True}
        )
        try:
            names = list(result.keys())
            rows = result.fetchmany(row_cap + 1)
        finally:
            result.close()
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code == QUERY_CANCELED:
            raise FilterTimeout("the filter ran past its deadline", filter=filter_name) from exc
        if is_transient_db_error(exc):  # the store is away: not the filter's fault
            raise db_error(exc, "run the filter", filter=filter_name) from exc
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise FilterError(f"the filter failed: {detail}", filter=filter_name) from exc
    finally:
        if transaction.is_active:
            transaction.rollback()
    truncated = len(rows) > row_cap
    out = [{k: _from_postgres(v) for k, v in zip(names, row, strict=True)}
           for row in (rows[:row_cap] if truncated else rows)]
    return QueryResult(rows=out, truncated=truncated, elapsed_s=time.perf_counter() - started)


def _from_postgres(value: Any) -> Any:
    if type(value) is Decimal:
        return float(value)
    if type(value) is bool:
        return int(value)
    return value
