"""Database errors translated at the store's boundary: transient or not.

Every place that runs statements for the batch loop wraps them in :func:`db_errors`, so what
escapes is a :class:`~skysift.errors.StoreError`, and :class:`~skysift.errors.StoreUnavailable`
(transient) when the database could not be reached or asked to be tried again:

- PostgreSQL SQLSTATE classes 08 (connection), 53 (insufficient resources: too many connections,
  disk full), 57 (operator intervention: shut down, cannot connect now, statement timeout),
  58 (system error), 40 (serialization failure, deadlock) and 55P03 (lock not available);
- a connection that was lost or invalidated, the pool timing out, and errors raised while
  connecting (no SQLSTATE);
- SQLite "database is locked" / "busy", "unable to open database file" and I/O errors.

Everything else (integrity and data errors: a NOT NULL violated, a value out of range, text with
a NUL byte) is a plain StoreError: retrying the same statements cannot help.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from skysift.errors import StoreError, StoreUnavailable

__all__ = ["db_error", "db_errors", "is_transient_db_error"]

_TRANSIENT_CLASSES = ("08", "53", "57", "58", "40")
_TRANSIENT_STATES = frozenset({"55P03"})
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "unable to open database",
                     "disk i/o error", "database schema has changed", "busy")


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for obj in (orig, exc):
        code = getattr(obj, "sqlstate", None) or getattr(obj, "pgcode", None)
        if code:
            return str(code)
    return None


def is_transient_db_error(exc: BaseException) -> bool:
    """Whether a database error may go away by itself (see the module docstring).

    Examples
    --------
    >>> import sqlite3, sqlalchemy as sa
    >>> locked = sqlite3.OperationalError("database is locked")
    >>> is_transient_db_error(sa.exc.OperationalError("INSERT", {}, locked))
    True
    >>> null = sqlite3.IntegrityError("NOT NULL constraint failed")
    >>> null = sa.exc.IntegrityError("INSERT", {}, null)
    >>> is_transient_db_error(null)
    False
    """
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError, sa.exc.InterfaceError)):
        return True
    state = _sqlstate(exc)
    if state is not None:
        return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES
    if isinstance(exc, sa.exc.OperationalError):
        orig = getattr(exc, "orig", None)
        module = type(orig).__module__ if orig is not None else ""
        if module.startswith("sqlite3"):
            text = str(orig).lower()
            return any(part in text for part in _SQLITE_TRANSIENT)
        return True  # a server driver's OperationalError without SQLSTATE: connecting failed
    return False


def db_error(exc: BaseException, action: str, **where: Any) -> StoreError:
    """The StoreError (or StoreUnavailable) for a database error met while doing ``action``."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = detail[0] if detail else type(exc).__name__
    cls = StoreUnavailable if is_transient_db_error(exc) else StoreError
    return cls(f"cannot {action}: {text}", **where)


@contextlib.contextmanager
def db_errors(action: str, **where: Any) -> Iterator[None]:
    """Translate SQLAlchemy errors raised inside the block into StoreError / StoreUnavailable.

    ``action`` completes "cannot ...", e.g. ``"store the batch"``.
    """
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        raise db_error(exc, action, **where) from exc
