"""The ingest workers' SQLite stores checkpoint their write-ahead log in a thread after each
commit (store.database.WalCheckpointer), not inside the commit; the data reaches the database
file all the same."""

from __future__ import annotations

import sqlite3
import time

import sqlalchemy as sa
from rubin_alerts import grown_light_curves

from skysift.features.update import store_alerts
from skysift.store.database import open_store, wal_checkpointer
from skysift.store.schema import sources


def _in_file(path) -> int:
    """diaSources in the database file itself, the write-ahead log ignored (``immutable``)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM sources").fetchone()[0]
    except sqlite3.DatabaseError:  # not even the table is in the file yet, or mid-copy
        return -1
    finally:
        conn.close()


def _autocheckpoint(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()


def test_commits_are_checkpointed_by_the_thread_not_in_the_commit(tmp_path):
    path = tmp_path / "store.db"
    engine = open_store(f"sqlite:///{path}", checkpoint_in_background=True)
    checkpointer = wal_checkpointer(engine)
    assert checkpointer is not None and checkpointer.thread.is_alive()
    try:
        # the engine's commits checkpoint only past 10,000 pages (the safety net)
        assert _autocheckpoint(engine) == 10_000
        done = checkpointer.checkpoints
        with engine.begin() as conn:
            store_alerts(conn, grown_light_curves(3, 2, seed=5, history=10), bbb=False)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar()
        assert stored and stored >= 6
        deadline = time.monotonic() + 30
        while ((_in_file(path) != stored or checkpointer.checkpoints <= done)
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert _in_file(path) == stored  # copied from the log into the file
        assert checkpointer.checkpoints > done
    finally:
        engine.dispose()
    assert not checkpointer.thread.is_alive()  # dispose() stops it
    assert _autocheckpoint(engine) == 1000  # SQLite's default again


def test_a_checkpoint_held_back_by_a_reader_is_finished_without_another_commit(tmp_path):
    """A reader on a snapshot from before the commit keeps PASSIVE from copying the commit's
    pages into the file. Once the reader lets go, the thread copies them on its own, with no
    further commit to wake it (it once waited for one: a run's last batch stayed in the log)."""
    path = tmp_path / "store.db"
    engine = open_store(f"sqlite:///{path}", checkpoint_in_background=True)
    checkpointer = wal_checkpointer(engine)
    assert checkpointer is not None
    reader = sqlite3.connect(path)
    try:
        with engine.begin() as conn:  # the tables and a first commit, copied to the file
            store_alerts(conn, grown_light_curves(1, 1, seed=6, history=2), bbb=False)
        deadline = time.monotonic() + 30
        while _in_file(path) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = _in_file(path)
        assert before >= 1
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sources").fetchone()  # holds this snapshot
        done = checkpointer.checkpoints
        with engine.begin() as conn:
            store_alerts(conn, grown_light_curves(3, 2, seed=5, history=10), bbb=False)
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar()
        assert stored > before
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints <= done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpoints > done  # it ran, and could not copy past the reader
        assert _in_file(path) == before
        reader.commit()  # the reader lets go; no commit follows
        deadline = time.monotonic() + 30
        while _in_file(path) != stored and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_file(path) == stored
    finally:
        reader.close()
        engine.dispose()


def test_without_the_thread_the_log_is_checkpointed_in_commits_as_sqlite_does(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert wal_checkpointer(engine) is None
        assert _autocheckpoint(engine) == 1000
    finally:
        engine.dispose()


def test_the_ingest_pipeline_checkpoints_in_the_background(tmp_path):
    from skysift.config import load_settings
    from skysift.ingest import open_pipeline

    settings = load_settings(env={}, overrides={"data_dir": tmp_path, "kafka": "127.0.0.1:1"})
    engine, _producer, pipeline = open_pipeline(settings)
    checkpointer = wal_checkpointer(engine)
    try:
        assert checkpointer is not None and checkpointer.thread.is_alive()
    finally:
        pipeline.close()  # the pipeline opened the engine: it disposes it
    assert not checkpointer.thread.is_alive()
