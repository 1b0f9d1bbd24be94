"""publish_files against the real embedded broker: produce, consume back, decode."""

from __future__ import annotations

import json
import time

import fastavro
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from skysift.alerts.decode import decode_message
from skysift.alerts.model import AlertOrigin
from skysift.alerts.publish import publish_files
from skysift.alerts.schemas import schema_definition

from .conftest import wire_files, with_history

pytestmark = pytest.mark.kafka


def _topic(bootstrap: str, name: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(name, 1, 1)]).values():
        fut.result(30)
    return name


def _consume(bootstrap: str, topic: str, n: int, timeout: float = 30.0) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic + "-g",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got, deadline = [], time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
    finally:
        consumer.close()
    return got


def test_publish_wire_ocf_and_json(kafka_bootstrap, unique_name, tmp_path, real_records):
    topic = _topic(kafka_bootstrap, unique_name("pub"))
    files = wire_files()[:3]
    extra = [with_history(r, 2, 1) for r in list(real_records.values())[3:5]]
    ocf = tmp_path / "two.avro"
    with ocf.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema_definition(9, 0)), extra)
    js = tmp_path / "one.json"
    last = {k: v for k, v in list(real_records.values())[5].items() if not k.startswith("cutout")}
    js.write_text(json.dumps(last))
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    sent = publish_files(producer, topic, [*files, ocf, js], progress=False)
    assert sent == 6
    msgs = _consume(kafka_bootstrap, topic, 6)
    assert len(msgs) == 6
    values = [m.value() for m in msgs]
    assert values[:3] == [f.read_bytes() for f in files]  # framed files go as they are
    alerts = [decode_message(m.value(), AlertOrigin(topic=topic, partition=m.partition(),
                                                    offset=m.offset())) for m in msgs]
    expected = [int(f.stem) for f in files] + [r["diaSourceId"] for r in extra] + [
        last["diaSourceId"]]
    assert [a.diaSourceId for a in alerts] == expected
    assert [m.key() for m in msgs] == [str(i).encode() for i in expected]
    assert all(m.value()[:5] == b"\x00\x00\x00\x03\x84" for m in msgs)  # 900: v9 data as 9.0
    assert [len(a.prvDiaSources) for a in alerts[3:5]] == [2, 2]


def test_publish_rate_limit(kafka_bootstrap, unique_name):
    topic = _topic(kafka_bootstrap, unique_name("rate"))
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    start = time.monotonic()
    sent = publish_files(producer, topic, wire_files()[:4], rate=10.0, progress=False)
    assert sent == 4
    assert time.monotonic() - start >= 0.3 - 0.02  # 4 sends at 10/s: 3 gaps of 0.1 s
