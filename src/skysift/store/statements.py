"""Dialect-aware bulk statements: insert-or-ignore, upsert, and chunked ``IN`` selects.

SQLite and PostgreSQL both speak ``INSERT ... ON CONFLICT``; SQLAlchemy builds it per dialect.
Each helper runs one executemany per call (SQLAlchemy batches the rows into multi-row VALUES where
the driver benefits, within the driver's parameter limits).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from skysift.errors import StoreError

__all__ = ["insert_ignore", "upsert", "select_in", "chunks", "IN_CHUNK"]

#: Ids per ``IN (...)`` list: under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
IN_CHUNK = 10_000


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL",
                     table=table.name)


def insert_ignore(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
                  key: str) -> None:
    """Insert ``rows``; rows whose ``key`` already exists are skipped (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=[key])
    conn.execute(stmt, list(rows))


def upsert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
           key: str) -> None:
    """Insert ``rows``, replacing every other column of rows whose ``key`` exists
    (ON CONFLICT (key) DO UPDATE). Keys must be unique within ``rows``."""
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[key],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key},
    )
    conn.execute(stmt, list(rows))


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def select_in(conn: sa.Connection, columns: Iterable[sa.ColumnElement[Any]],
              key: sa.ColumnElement[Any], values: Sequence[Any]) -> list[sa.Row[Any]]:
    """``SELECT columns WHERE key IN values``, in as few statements as the parameter limits allow."""
    cols = list(columns)
    out: list[sa.Row[Any]] = []
    for part in chunks(values):
        out.extend(conn.execute(sa.select(*cols).where(key.in_(part))).all())
    return out
