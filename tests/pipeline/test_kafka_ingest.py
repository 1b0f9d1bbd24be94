"""Ingest from Kafka in a consumer group: dead letters, offsets, retries, the lasair client."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_kafka
from skysift.pipeline import Pipeline
from skysift.store.database import open_store

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
ALL_SQL = "SELECT objects.diaObjectId, objects.ra, objects.decl FROM objects WHERE objects.ra >= 0"


def wire_files():
    files = sorted(RUBIN.rglob("*.avro"))
    assert len(files) >= 3
    return files


def n_objects():
    """Alerts of objects (a solar-system-only alert makes no objects row, so no record)."""
    from skysift.alerts.files import read_alerts

    return sum(1 for f in wire_files() for a in read_alerts(f) if a.diaObjectId is not None)


def produce(bootstrap, topic, values):
    """Produce to a new one-partition topic, in order."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, -1)])[topic].result(10)
    p = Producer({"bootstrap.servers": bootstrap})
    for v in values:
        p.produce(topic, value=v)
    assert p.flush(10) == 0


def committed(bootstrap, group, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        c.close()


@pytest.fixture
def setup(make_settings, kafka_bootstrap, tmp_path, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, batch_wait_s=0.3)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    flt = add_filter(engine, settings, user, name=unique_name("all"), sql=ALL_SQL,
                     output="plain", trigger="alert")
    return settings, engine, flt


def test_bad_message_goes_to_dlq_with_reason_and_the_rest_is_processed(setup, kafka_bootstrap,
                                                                       unique_name, topic_reader):
    settings, engine, flt = setup
    topic = unique_name("in")
    files = wire_files()
    good = [f.read_bytes() for f in files]
    corrupt = b"\x00\x00\x00\x03\x84" + b"\xff" * 40  # right framing, garbage body
    unknown = b"\x00\x00\x00\x27\x0f" + good[0][5:]  # schema id 9999
    produce(kafka_bootstrap, topic, [good[0], corrupt, *good[1:], unknown])
    group = unique_name("g")
    totals = ingest_kafka(settings, [topic], group_id=group, idle_exit_s=3, engine=engine)
    assert totals.ingested == len(good)
    assert totals.rejected == 2
    assert committed(kafka_bootstrap, group, topic) == len(good) + 2

    dlq = topic_reader(f"{topic}.dlq", expect=2)
    assert [m.value() for m in dlq] == [corrupt, unknown]
    h0, h1 = (dict(m.headers()) for m in dlq)
    assert (h0["skysift.source.topic"], h0["skysift.source.offset"]) == (topic.encode(), b"1")
    assert h1["skysift.source.offset"] == str(len(good) + 1).encode()
    assert b"9999" in h1["skysift.reason"]  # the unknown schema id is named
    # the corrupt body's reason says what is wrong and where
    assert b"ends before the schema 9.0 record" in h0["skysift.reason"]
    assert b"offset=1" in h0["skysift.reason"]
    records = topic_reader(flt.topic, expect=n_objects())
    assert len(records) == n_objects()

    # the same group again: everything was committed, nothing is produced twice
    again = ingest_kafka(settings, [topic], group_id=group, idle_exit_s=3, engine=engine)
    assert again.ingested == 0 and again.rejected == 0


class FlakyPipeline(Pipeline):
    """Fails its first batch after producing nothing: as if the store went away."""

    failures = 1

    def process(self, alerts):
        if FlakyPipeline.failures:
            FlakyPipeline.failures -= 1
            from skysift.errors import StoreError

            raise StoreError("database went away (injected)")
        return super().process(alerts)


def test_a_failed_batch_is_retried_and_offsets_wait_for_it(setup, kafka_bootstrap, unique_name,
                                                           topic_reader, monkeypatch):
    import skysift.ingest

    settings, engine, flt = setup
    monkeypatch.setattr(skysift.ingest, "Pipeline", FlakyPipeline)
    topic = unique_name("in")
    files = wire_files()
    produce(kafka_bootstrap, topic, [f.read_bytes() for f in files])
    group = unique_name("g")
    totals = ingest_kafka(settings, [topic], group_id=group, idle_exit_s=4, engine=engine)
    assert FlakyPipeline.failures == 0
    assert totals.ingested == len(files)
    assert committed(kafka_bootstrap, group, topic) == len(files)
    assert len(topic_reader(flt.topic, expect=n_objects())) == n_objects()


@pytest.mark.timeout(180)
def test_the_lasair_client_consumes_unchanged(setup, kafka_bootstrap, unique_name):
    """The seed's consumer code, with only the server address changed."""
    from lasair import lasair_consumer

    settings, engine, flt = setup
    topic = unique_name("in")
    files = wire_files()
    produce(kafka_bootstrap, topic, [f.read_bytes() for f in files])
    ingest_kafka(settings, [topic], group_id=unique_name("g"), idle_exit_s=3, engine=engine)

    kafka_server = kafka_bootstrap
    group_id = unique_name("test123")
    my_topic = flt.topic
    consumer = lasair_consumer(kafka_server, group_id, my_topic)
    n = 0
    seen = []
    deadline = time.monotonic() + 120  # librdkafka's default session timeout: ~23 s to join
    while n < n_objects() and time.monotonic() < deadline:
        msg = consumer.poll(timeout=20)
        if msg is None:
            continue
        if msg.error():
            continue
        jmsg = json.loads(msg.value())
        seen.append(jmsg)
        n += 1
    consumer.close()
    assert n == n_objects()
    assert all(set(r) == {"diaObjectId", "ra", "decl", "UTC"} for r in seen)


def test_a_batch_closes_when_the_worker_is_free_not_after_batch_wait(
        make_settings, kafka_bootstrap, tmp_path, unique_name):
    """With batch_wait_s of 10 minutes, alerts already on the topic are processed at once (in
    batches of what the consumer holds) and the loop ends on max_messages; the old fixed wait
    held the first batch for the whole 10 minutes (this test then fails after 2)."""
    settings = make_settings(kafka=kafka_bootstrap, batch_wait_s=600.0, batch_size=1000)
    engine = open_store(settings.database_url)
    topic = unique_name("in")
    values = [f.read_bytes() for f in wire_files()]
    produce(kafka_bootstrap, topic, values)
    batches: list[int] = []
    totals = []
    worker = threading.Thread(daemon=True, target=lambda: totals.append(ingest_kafka(
        settings, [topic], group_id=unique_name("g"), engine=engine, max_alerts=len(values),
        on_batch=lambda report, _t: batches.append(report.alerts))))
    worker.start()
    worker.join(120)  # joining the group takes seconds; a fixed wait would take 600
    assert not worker.is_alive(), "the first batch waited for batch_wait_s"
    assert totals[0].ingested == len(values)
    assert sum(batches) == len(values) and len(batches) >= 1
