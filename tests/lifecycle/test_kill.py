"""Kill the pipeline in the middle of its work (SIGKILL, a real process), restart it with the same
consumer group: every alert's record reaches Kafka at least once, and the duplicates are limited
to the interrupted batch (at-least-once: offsets are committed only after a batch is stored and
its records flushed)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from lifecycle_alerts import new_alert_bytes

from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.store.database import open_store

SQL = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"
N_ALERTS = 200
BATCH = 5


def _ingest(settings, bootstrap, topic, group, log, *extra):
    env = dict(os.environ, SKYSIFT_BATCH_SIZE=str(BATCH), SKYSIFT_BATCH_WAIT_S="0.3",
               SKYSIFT_NOTIFY_INTERVAL_S="0")
    env.pop("SKYSIFT_CONFIG", None)
    cmd = [sys.executable, "-m", "skysift", "--data-dir", str(settings.data_dir),
           "--kafka", bootstrap, "--database", settings.database_url,
           "ingest", "--from-kafka", topic, "--group-id", group, *extra]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _count(bootstrap, topic):
    """How many records the topic holds now (end offset of its one partition)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "count"})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return hi - lo
    finally:
        c.close()


@pytest.mark.timeout(280)
def test_sigkill_mid_batch_then_restart_loses_nothing(store_url, make_settings, kafka_bootstrap,
                                                     tmp_path, unique_name, topic_reader):
    """On SQLite and on PostgreSQL."""
    settings = make_settings(kafka=kafka_bootstrap, database=store_url)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    flt = add_filter(engine, settings, user, name="everything", sql=SQL, output="plain",
                     trigger="alert")  # an empty store: no seed records
    engine.dispose()

    alerts = new_alert_bytes(N_ALERTS, 7_000_000_001)
    topic, group = unique_name("in"), unique_name("g")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, -1)])[topic].result(10)
    p = Producer({"bootstrap.servers": kafka_bootstrap})
    for _, data in alerts:
        p.produce(topic, value=data)
    assert p.flush(30) == 0

    log = (tmp_path / "ingest.log").open("w")
    proc = _ingest(settings, kafka_bootstrap, topic, group, log)
    watch = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    try:
        # Kill it in the middle of a batch: when the output topic holds more records than the
        # group has committed input offsets (one record per alert), a batch's records are out
        # and its offsets are not committed yet. The window is short; if the commit wins the
        # race the kill lands between batches (no duplicates), which the checks below allow.
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "ingest.log").read_text()
            assert time.monotonic() < deadline, "no output records within 120 s"
            out = _count(kafka_bootstrap, flt.topic)
            done = watch.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
            if done >= 2 * BATCH and out > done:  # a few batches in, mid-batch
                break
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        watch.close()
        if proc.poll() is None:
            proc.kill()
    at_kill = _count(kafka_bootstrap, flt.topic)
    assert 0 < at_kill < N_ALERTS, "the kill must come before the end"

    proc = _ingest(settings, kafka_bootstrap, topic, group, log, "--idle-exit", "2")
    try:
        assert proc.wait(180) == 0, (tmp_path / "ingest.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()

    # the worker has exited, its records flushed: read to the end (an `expect` of N_ALERTS +
    # BATCH waited the reader's whole 40 s whenever fewer than a batch was done twice)
    msgs = topic_reader(flt.topic, idle_s=4)
    seen = collections.Counter((int(m.key()), int(dict(m.headers())["diaSourceId"]))
                               for m in msgs)
    assert set(seen) == {(i, i) for i, _ in alerts}  # every alert's record, at least once
    duplicates = sum(n - 1 for n in seen.values())
    assert duplicates <= BATCH, f"{duplicates} duplicates: more than the interrupted batch"
    # the duplicates are one run of consecutive alerts (the one batch done twice)
    dup_ids = sorted(k[0] for k, n in seen.items() if n > 1)
    assert dup_ids == list(range(dup_ids[0], dup_ids[0] + len(dup_ids))) if dup_ids else True
    c = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group})
    try:
        assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == N_ALERTS
    finally:
        c.close()
    print(f"records at kill: {at_kill} (committed {done}), after restart: {len(msgs)}, "
          f"duplicates: {duplicates}")
