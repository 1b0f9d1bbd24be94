"""Open the store: the engine, SQLite settings, the filter SQL functions, and migrations.

One call, :func:`open_store`, at the edge of every process (ingest worker, web app, CLI).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import make_url

from skysift.redaction import mask_url_password
from skysift.errors import StoreError
from skysift.store import functions

__all__ = [
    "MIGRATIONS_DIR",
    "SQLITE_BUSY_TIMEOUT_S",
    "WalCheckpointer",
    "alembic_config",
    "current_revision",
    "head_revision",
    "mask_url",
    "open_store",
    "store_probe",
    "wal_checkpointer",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
#: PostgreSQL advisory lock key that serialises concurrent migrations of several workers.
_MIGRATION_LOCK_KEY = zlib.crc32(b"skysift.store.migrate")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs (the masking of
    the ``database`` setting, :func:`skysift.redaction.mask_url_password`).

    Examples
    --------
    >>> mask_url("postgresql://ann:secret@db:5432/skysift")
    'postgresql://ann:***@db:5432/skysift'
    >>> mask_url("sqlite:///skysift.db")
    'sqlite:///skysift.db'
    """
    return mask_url_password(str(url))


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of the shipped migrations, built in code (no alembic.ini).

    Parameters
    ----------
    url
        Set as ``sqlalchemy.url`` for command-line style use (``alembic revision``); not needed
        when a connection is passed in ``config.attributes["connection"]``.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this version of skysift."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _with_driver(url: sa.URL) -> sa.URL:
    """A plain ``postgresql://`` URL falls back to psycopg2 when psycopg (3) is not installed
    (SQLAlchemy 2.1 defaults to psycopg 3)."""
    if url.drivername != "postgresql":
        return url
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return url.set(drivername="postgresql+psycopg2")
    return url


def _sqlite_setup(engine: sa.Engine) -> None:
    """WAL, foreign keys, busy timeout, and real transactions on SQLite.

    pysqlite's legacy transaction handling neither begins a transaction before DDL nor honours
    SAVEPOINT properly; SQLAlchemy's documented recipe turns it off and emits ``BEGIN`` itself.
    A connection with execution option ``sqlite_begin="IMMEDIATE"`` takes the write lock at once.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


class WalCheckpointer:
    """Checkpoints an SQLite store's write-ahead log in a thread of its own, after each commit.

    By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: the
    committing thread copies the log into the database file and waits for the disk. A batch of a
    cold night writes ~35 MB of log; its commit then took 0.33 s, three quarters of it waiting
    for the disk (0.08 s of CPU), measured on the synthetic night. With this, the engine's
    connections checkpoint only past 10,000 pages (``wal_autocheckpoint``: the safety net should
    the thread fall behind or stop, which it logs) and this thread, on its own
    connection, runs ``PRAGMA wal_checkpoint(PASSIVE)`` after every commit (when the committing
    connection is back in the pool): the worker's next batch goes on while the disk works
    (sqlite3 releases the GIL while it waits). PASSIVE never blocks a writer or a reader; what it
    cannot copy yet (a reader still on an older snapshot, the checkpoint lock taken) it tries
    again after a pause (0.1 s, doubling to 5 s) until the log is copied or the next commit
    wakes it: the last batch of a run must not wait for another commit to reach the file (a
    test once saw it stay in the log). Cold store, 250-alert batches, in three interleaved
    runs: 1.1-1.3x the alerts/s of checkpoints in the commits.

    Stopped by ``engine.dispose()`` (one last checkpoint); connections made after that
    checkpoint in their commits again, as SQLite does by default.
    """

    def __init__(self, engine: sa.Engine, path: str) -> None:
        self.path = path
        self.wake = threading.Event()
        self.stopping = False
        self.checkpoints = 0  # how many ran (for tests and logs)
        self.thread = threading.Thread(target=self._run, name="skysift-wal-checkpoint",
                                       daemon=True)

        @sa.event.listens_for(engine, "connect")
        def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
            if not self.stopping:  # a commit still checkpoints past _SAFETY_PAGES (safety net)
                dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={_SAFETY_PAGES}")

        # the "commit" event comes before the commit itself: the thread is woken when the
        # connection goes back to the pool, after it
        self.committed = False
        self.requested = False  # a commit happened: there is something to checkpoint

        @sa.event.listens_for(engine, "commit")
        def _committing(_conn: sa.Connection) -> None:
            self.committed = True

        @sa.event.listens_for(engine, "checkin")
        def _returned(_dbapi_conn: Any, _record: Any) -> None:
            if self.committed:
                self.committed = False
                self.requested = True
                self.wake.set()

        @sa.event.listens_for(engine, "engine_disposed")
        def _disposed(_engine: sa.Engine) -> None:
            self.stop()

        weakref.finalize(engine, self.stop, join=False)  # an engine dropped without dispose()
        self.thread.start()

    def stop(self, join: bool = True) -> None:
        """Run one last checkpoint and end the thread (``join``: wait for it)."""
        if not self.stopping:
            self.stopping = True
            self.wake.set()
        if join and self.thread is not threading.current_thread():
            self.thread.join(timeout=SQLITE_BUSY_TIMEOUT_S)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        pause: float | None = None  # set while part of the log is still to copy
        try:
            while True:
                self.wake.wait(pause)
                self.wake.clear()
                if not self.requested:  # stopped before any commit: nothing to copy
                    return
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_S,
                                               check_same_thread=False)
                    busy, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.checkpoints += 1
                    left = bool(busy) or copied < logged
                except sqlite3.Error as exc:  # tried again after the pause
                    log.warning("cannot checkpoint the store's write-ahead log %s-wal: %s",
                                self.path, exc)
                    if conn is not None:
                        conn.close()
                        conn = None
                    left = True
                pause = _longer(pause) if left else None
                if self.stopping:
                    return
        except Exception:  # never silent: commits checkpoint themselves past _SAFETY_PAGES
            log.exception("the write-ahead log checkpoints of %s stopped", self.path)
            self.stopping = True
        finally:
            if conn is not None:
                conn.close()


def _longer(pause: float | None) -> float:
    """The checkpointer's next pause while part of the log is left: 0.1 s, doubling to 5 s."""
    return 0.1 if pause is None else min(2 * pause, 5.0)


#: The log size (pages of 4 KB) at which a commit checkpoints anyway, should the thread fall
#: behind or stop: 10 times SQLite's default.
_SAFETY_PAGES = 10_000

_CHECKPOINTERS: weakref.WeakKeyDictionary[sa.Engine, WalCheckpointer] = weakref.WeakKeyDictionary()


def wal_checkpointer(engine: sa.Engine) -> WalCheckpointer | None:
    """The engine's :class:`WalCheckpointer` (None when it checkpoints in its commits)."""
    return _CHECKPOINTERS.get(engine)


def _install_filter_functions(engine: sa.Engine) -> None:
    functions.install(engine)


def _migrate(engine: sa.Engine) -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                             {"k": _MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


def open_store(url: str, *, migrate: bool = True, checkpoint_in_background: bool = False
               ) -> sa.Engine:
    """Create the engine of the store and bring its schema up to date.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path/skysift.db`` or ``postgresql://user@host/db``.
    migrate
        Run ``alembic upgrade head`` with the migrations shipped in the package. Concurrent callers
        are serialised (PostgreSQL advisory lock; SQLite ``BEGIN IMMEDIATE``).
    checkpoint_in_background
        SQLite file stores: the write-ahead log is checkpointed by a thread after each commit
        rather than inside the commit (:class:`WalCheckpointer`; the ingest workers' engines).
        Ignored for other stores.

    Returns
    -------
    sqlalchemy.Engine
        On SQLite: WAL journal, foreign keys on, a busy timeout of 30 s, and transactional DDL.
        The SQL functions of the filter language (:mod:`skysift.store.functions`) are registered.

    Raises
    ------
    StoreError
        The URL is malformed, the database is unreachable, or a migration failed; ``url`` is set,
        with the password masked.
    """
    masked = mask_url(url)
    try:
        parsed = _with_driver(make_url(url))
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError, OSError) as exc:
        raise StoreError(f"cannot create the store engine: {exc}", url=masked) from exc
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    _install_filter_functions(engine)
    if (checkpoint_in_background and engine.dialect.name == "sqlite" and parsed.database
            and parsed.database != ":memory:"):
        _CHECKPOINTERS[engine] = WalCheckpointer(
            engine, str(Path(parsed.database).expanduser().resolve()))
    if migrate:
        try:
            _migrate(engine)
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreError(f"cannot migrate the store: {detail}", url=masked) from exc
        except CommandError as exc:
            engine.dispose()
            raise StoreError(f"cannot migrate the store: {exc}", url=masked) from exc
    return engine


def store_probe(engine: sa.Engine) -> str | None:
    """None when the store answers ``SELECT 1``, else why not."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"the database does not answer ({detail[0] if detail else type(exc).__name__})"
    return None
