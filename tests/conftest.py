"""Shared fixtures: a real Kafka broker, real SQLite and PostgreSQL stores, settings.

- ``kafka_bootstrap``: one embedded Tansu broker for the whole session (a child process on a free
  port, killed at the end). Tests use unique topic names (``unique_name``) so they never share
  state.
- ``store_url``: parametrised over ``sqlite`` (a file in tmp_path) and ``postgresql`` (a fresh
  database on 127.0.0.1:5432, dropped afterwards). PostgreSQL is skipped with a reason when the
  server is not reachable, and required when ``CI`` is set.
- ``make_settings``: Settings for a test, in tmp_path, on that broker and store.
- ``s3_endpoint``: moto's standalone S3 server (a real HTTP server speaking the S3 protocol; no
  MinIO or Ceph can be installed here), one per test module; skipped without moto.
- ``held``: web replays that stop after their first batch until the test sets ``held.gate``.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kafka_reading import read_topic

from skysift.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get("SKYSIFT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def unique_name():
    return unique


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    from skysift.streams.embedded import EmbeddedBroker

    log = tmp_path_factory.mktemp("kafka") / "tansu.log"
    broker = EmbeddedBroker(log_path=log).start()
    try:
        yield broker.bootstrap
    finally:
        # destroy producers/consumers that tests left to the garbage collector while the broker
        # still answers, so none of them logs reconnect failures after the test summary
        import gc

        from skysift.annotations.service import close_producers

        close_producers()  # the web API's shared producers
        gc.collect()
        broker.stop()


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not here"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin():
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be reachable in CI at {PG_ADMIN_URL}: {reason}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {reason}")
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin):
    """A fresh, empty PostgreSQL database for one test."""
    import sqlalchemy as sa

    name = "skysift_" + uuid.uuid4().hex[:12]
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with pg_admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                     {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The store URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def make_settings(tmp_path):
    """Build Settings in tmp_path: ``make_settings(kafka=..., database=..., **more)``."""

    def factory(**overrides) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return load_settings(env={}, overrides=overrides)

    return factory


@pytest.fixture
def topic_reader(kafka_bootstrap):
    def reader(topic: str, **kw):
        return read_topic(kafka_bootstrap, topic, **kw)

    return reader


@pytest.fixture(scope="module")
def s3_endpoint():
    """The URL of a moto S3 server for this test module."""
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def held(monkeypatch):
    """Replays that stop after their first batch until the test sets ``gate``: the run's
    ``on_batch`` (which records the job's progress) is followed by a wait on it. ``reached``
    is set once a replay is waiting there."""
    import skysift.web.backtests as web_backtests

    real = web_backtests.replay
    gate, reached = threading.Event(), threading.Event()

    def replay(*args: Any, on_batch: Any = None, **kwargs: Any):
        def hold(night: Any) -> None:
            on_batch(night)
            reached.set()
            if not gate.wait(60):
                raise TimeoutError("the test did not release the replay")

        return real(*args, on_batch=hold if on_batch is not None else None, **kwargs)

    monkeypatch.setattr(web_backtests, "replay", replay)
    yield SimpleNamespace(gate=gate, reached=reached)
    gate.set()
