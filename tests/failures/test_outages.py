"""The infrastructure fails under a running worker: PostgreSQL refusing connections, the Kafka
broker restarted (empty, as the embedded one comes back), the store refusing the step after the
records were produced and before the offsets are committed (then the worker killed), a dead
letter the broker refuses. Each time: no alert lost, duplicates limited to the batch in flight,
the worker alive and saying what happens, once per incident."""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, TopicPartition
from outage_tools import publish as _publish
from outage_tools import refused_connections
from outage_tools import stored as _stored
from outage_tools import topic as _topic
from poison_corpus import good_alerts

from kafka_reading import read_topic
from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.ingest import StopFlag, ingest_kafka
from skysift.store.database import open_store
from skysift.streams.embedded import EmbeddedBroker, free_port
from skysift.worker.state import WorkerState

SQL = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"


def _wait(what: str, predicate, timeout: float, worker: threading.Thread | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if worker is not None:
            assert worker.is_alive(), f"the worker died while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.3)


def _committed(bootstrap: str, group: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        c.close()


def _record_counts(bootstrap: str, topic: str, expect: int) -> collections.Counter:
    """Every record of ``topic`` (its producer has flushed), by key; at least ``expect`` of them
    (reading to the end: stopping at ``expect`` could miss a record when some are doubled)."""
    msgs = read_topic(bootstrap, topic, idle_s=3)
    assert len(msgs) >= expect, f"{len(msgs)} records in {topic}, expected at least {expect}"
    return collections.Counter(int(m.key()) for m in msgs)


class Worker:
    """``ingest_kafka`` in a thread, as ``skysift serve`` runs it."""

    def __init__(self, settings, topic, group, engine, **kw) -> None:
        self.stop = StopFlag()
        self.state = WorkerState("alerts")
        self.totals = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.totals = ingest_kafka(settings, [topic], group_id=group, stop=self.stop,
                                           engine=engine, state=self.state, **kw)
            except BaseException as exc:  # reported by the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def finish(self, timeout: float = 60) -> None:
        self.stop.event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop"
        assert self.error is None, f"the worker died: {self.error!r}"


def _setup(settings, unique_name):
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    flt = add_filter(engine, settings, user, name="everything", sql=SQL, output="plain",
                     trigger="alert")
    return engine, flt


@pytest.mark.timeout(180)
def test_postgresql_refusing_connections_is_waited_out(pg_url, pg_admin, make_settings,
                                                       kafka_bootstrap, unique_name, caplog):
    caplog.set_level(logging.WARNING, logger="skysift.worker")
    settings = make_settings(kafka=kafka_bootstrap, database=pg_url, batch_size=20,
                             batch_wait_s=0.3, retry_backoff_max_s=2, notify_interval_s=0)
    engine, flt = _setup(settings, unique_name)
    topic, group = unique_name("in"), unique_name("g")
    _topic(kafka_bootstrap, topic)
    alerts = good_alerts(100, 8_300_000_000)
    _publish(kafka_bootstrap, topic, alerts[:40])
    worker = Worker(settings, topic, group, engine)
    _wait("first 40 alerts stored", lambda: len(_stored(engine)) >= 40 * 4, 60, worker.thread)

    with refused_connections(pg_admin, pg_url):
        _publish(kafka_bootstrap, topic, alerts[40:])
        _wait("the worker to say it is retrying",
              lambda: worker.state.snapshot().status == "retrying", 30, worker.thread)
        time.sleep(6)  # several attempts, all refused
        snap = worker.state.snapshot()
        assert snap.status == "retrying" and "database" in (snap.incident or "")
        assert worker.thread.is_alive()
    _wait("all 100 alerts stored", lambda: {oid for oid, _ in alerts} <= _stored(engine), 60,
          worker.thread)
    _wait("the offsets committed", lambda: _committed(kafka_bootstrap, group, topic) == 100, 30)
    assert worker.state.snapshot().status == "running"
    worker.finish()

    counts = _record_counts(kafka_bootstrap, flt.topic, 100)
    assert set(counts) == {oid for oid, _ in alerts}, "a record for every alert"
    assert sum(n - 1 for n in counts.values()) <= settings.batch_size, "duplicates: one batch"
    assert worker.totals.ingested == 100 and worker.totals.rejected == 0
    said = [r.getMessage() for r in caplog.records if r.name == "skysift.worker"]
    begun = [m for m in said if "trying again in" in m]
    assert len(begun) == 1, f"the outage said once when it began, not {len(begun)} times"
    assert sum("recovered after" in m for m in said) == 1
    engine.dispose()


@pytest.mark.timeout(240)
def test_broker_restarted_empty_under_a_running_worker(make_settings, tmp_path, unique_name,
                                                       caplog):
    caplog.set_level(logging.WARNING)
    port = free_port()
    broker = EmbeddedBroker(port=port, log_path=tmp_path / "tansu.log").start()
    try:
        settings = make_settings(kafka=broker.bootstrap, batch_size=20, batch_wait_s=0.3,
                                 retry_backoff_max_s=2, notify_interval_s=0,
                                 database=f"sqlite:///{tmp_path / 'store.db'}")
        engine, flt = _setup(settings, unique_name)
        topic, group = unique_name("in"), unique_name("g")
        _topic(broker.bootstrap, topic)
        alerts = good_alerts(60, 8_400_000_000)
        _publish(broker.bootstrap, topic, alerts[:30])
        worker = Worker(settings, topic, group, engine, idle_exit_s=12)
        _wait("the first 30 alerts stored", lambda: len(_stored(engine)) >= 30 * 4, 60,
              worker.thread)

        broker.stop()
        time.sleep(1.5)
        assert worker.thread.is_alive()
        broker = EmbeddedBroker(port=port, log_path=tmp_path / "tansu.log").start()
        _topic(broker.bootstrap, topic)  # the broker came back without it
        _publish(broker.bootstrap, topic, alerts[30:])
        _wait("the 30 alerts sent after the restart stored",
              lambda: {oid for oid, _ in alerts} <= _stored(engine), 90, worker.thread)

        counts = _record_counts(broker.bootstrap, flt.topic, 30)
        assert set(counts) == {oid for oid, _ in alerts[30:]}, \
            "the filter's topic was created again and holds the new alerts' records"
        assert max(counts.values()) == 1
        # --idle-exit still works after the restart (it used to wait for ever)
        worker.thread.join(60)
        assert not worker.thread.is_alive(), "idle exit did not fire after the broker restart"
        assert worker.error is None and worker.totals.ingested == 60
        said = [r.getMessage() for r in caplog.records]
        assert sum("came back without" in m for m in said) == 1
        assert len([m for m in said if "Connect to" in m]) <= 5, "librdkafka's repeats folded"
        engine.dispose()
    finally:
        broker.stop()


def _ingest_process(settings, bootstrap, topic, group, log, *extra):
    env = dict(os.environ, SKYSIFT_BATCH_SIZE="10", SKYSIFT_BATCH_WAIT_S="0.3",
               SKYSIFT_NOTIFY_INTERVAL_S="0", SKYSIFT_RETRY_BACKOFF_MAX_S="1")
    env.pop("SKYSIFT_CONFIG", None)
    cmd = [sys.executable, "-m", "skysift", "--data-dir", str(settings.data_dir),
           "--kafka", bootstrap, "--database", settings.database_url,
           "ingest", "--from-kafka", topic, "--group-id", group, *extra]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _fail_stats(engine: sa.Engine, on: bool) -> None:
    """The store refuses to count a batch: the step after the records were produced and before
    the offsets are committed fails, for real (a trigger raising in the database)."""
    with engine.begin() as conn:
        if on:
            conn.execute(sa.text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
            conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON "
                                 "ingest_stats FOR EACH ROW EXECUTE FUNCTION refuse()"))
        else:
            conn.execute(sa.text("DROP TRIGGER refuse ON ingest_stats"))
            conn.execute(sa.text("DROP FUNCTION refuse()"))


@pytest.mark.timeout(300)
def test_failure_after_produce_before_commit_then_kill(pg_url, make_settings, kafka_bootstrap,
                                                       tmp_path, unique_name):
    """On PostgreSQL, the red team's store (SQLite goes through the same loop; its kill test is
    tests/lifecycle/test_kill.py)."""
    settings = make_settings(kafka=kafka_bootstrap, database=pg_url)
    engine, flt = _setup(settings, unique_name)
    topic, group = unique_name("in"), unique_name("g")
    _topic(kafka_bootstrap, topic)
    alerts = good_alerts(20, 8_500_000_000)
    log = (tmp_path / "ingest.log").open("w")
    proc = _ingest_process(settings, kafka_bootstrap, topic, group, log)
    try:
        # 1. the step fails, the worker waits; the step works again: committed, no duplicate
        _fail_stats(engine, True)
        _publish(kafka_bootstrap, topic, alerts[:10])
        _wait("the records of the first batch", lambda: len(read_topic(
            kafka_bootstrap, flt.topic, expect=10, idle_s=1, max_wait_s=5)) == 10, 60)
        time.sleep(2)
        assert proc.poll() is None, (tmp_path / "ingest.log").read_text()
        assert _committed(kafka_bootstrap, group, topic) < 0, "committed before the step worked"
        _fail_stats(engine, False)
        _wait("the first batch committed",
              lambda: _committed(kafka_bootstrap, group, topic) == 10, 30)
        # 2. fails again, and the worker is killed meanwhile: the batch is done again
        _fail_stats(engine, True)
        _publish(kafka_bootstrap, topic, alerts[10:])
        _wait("the records of the second batch", lambda: len(read_topic(
            kafka_bootstrap, flt.topic, expect=20, idle_s=1, max_wait_s=5)) == 20, 60)
        assert _committed(kafka_bootstrap, group, topic) == 10
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _fail_stats(engine, False)
        proc = _ingest_process(settings, kafka_bootstrap, topic, group, log, "--idle-exit", "4")
        assert proc.wait(120) == 0, (tmp_path / "ingest.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    text = (tmp_path / "ingest.log").read_text()
    assert "cannot count the batch" in text and "refused by the test" in text
    counts = _record_counts(kafka_bootstrap, flt.topic, 30)
    assert set(counts) == {oid for oid, _ in alerts}
    duplicated = sorted(k for k, n in counts.items() if n > 1)
    assert duplicated == sorted(oid for oid, _ in alerts[10:]), \
        "exactly the killed batch was done twice"
    assert max(counts.values()) == 2
    assert _committed(kafka_bootstrap, group, topic) == 20
    engine.dispose()


@pytest.mark.timeout(120)
def test_a_dead_letter_the_broker_refuses_is_kept_in_the_folder(make_settings, kafka_bootstrap,
                                                                 tmp_path, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, topic_max_message_bytes=20_000,
                             batch_wait_s=0.3, notify_interval_s=0)
    engine, _flt = _setup(settings, unique_name)
    topic, group = unique_name("in"), unique_name("g")
    _topic(kafka_bootstrap, topic)
    big_garbage = b"\x00\x00\x00\x03\x84" + os.urandom(60_000)  # too large for the .dlq topic
    small_garbage = b"not an alert"
    good = good_alerts(3, 8_600_000_000)
    _publish(kafka_bootstrap, topic, [good[0], (0, big_garbage), (0, small_garbage), *good[1:]])
    totals = ingest_kafka(settings, [topic], group_id=group, idle_exit_s=3, engine=engine)
    assert (totals.ingested, totals.rejected) == (3, 2)
    assert _committed(kafka_bootstrap, group, topic) == 5
    letters = read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1)
    assert [m.value() for m in letters] == [small_garbage]
    kept = Path(settings.dead_letter_dir) / f"{topic}-p0-o1.alert"
    assert kept.read_bytes() == big_garbage, "the refused dead letter is in the folder, unchanged"
    note = json.loads(kept.with_name(kept.name + ".reason.json").read_text())
    assert "the dead-letter topic refused it" in note["reason"]
    assert note["offset"] == 1 and note["topic"] == topic
    engine.dispose()
