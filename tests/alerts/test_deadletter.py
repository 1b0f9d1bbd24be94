"""Dead letters: the folder keeps raw bytes and the reason; the Kafka record keeps the value."""

from __future__ import annotations

import json
import shutil

import pytest

from skysift.alerts.deadletter import DeadLetterFolder, dead_letter_record
from skysift.alerts.decode import decode_message
from skysift.alerts.files import read_alerts
from skysift.alerts.model import AlertOrigin
from skysift.errors import AlertDecodeError, SkysiftError

from .conftest import wire_files


def test_kafka_message_kept_with_reason(tmp_path):
    raw = wire_files()[0].read_bytes()[:40]
    origin = AlertOrigin(topic="lsst-alerts", partition=2, offset=99, timestamp_ms=1700000000000)
    with pytest.raises(AlertDecodeError) as info:
        decode_message(raw, origin)
    kept = DeadLetterFolder(tmp_path / "dl").keep(raw, origin, str(info.value))
    assert kept.read_bytes() == raw
    assert kept.name == "lsst-alerts-p2-o99.alert"
    note = json.loads(kept.with_name(kept.name + ".reason.json").read_text())
    assert note["reason"] == str(info.value) and "truncated" in note["reason"]
    assert (note["topic"], note["partition"], note["offset"]) == ("lsst-alerts", 2, 99)
    assert note["timestamp_ms"] == 1700000000000 and note["time"].endswith("+00:00")
    assert note["bytes"] == len(raw)
    # the kept bytes read back as the same bad alert
    [again] = list(read_alerts(kept))
    assert isinstance(again, AlertDecodeError) and "truncated" in again.message


def test_bad_file_copied_once_for_many_bad_records(tmp_path):
    bad = tmp_path / "in" / "night.jsonl"
    bad.parent.mkdir()
    bad.write_text('{"a": 1}\n{"b": 2}\n')
    folder = DeadLetterFolder(tmp_path / "dl")
    errors = list(read_alerts(bad))
    kept = [folder.keep(None, AlertOrigin(path=e.path, index=e.record), str(e)) for e in errors]
    assert len(errors) == 2 and kept[0] == kept[1]
    assert kept[0].read_bytes() == bad.read_bytes()
    notes = sorted(p.name for p in (tmp_path / "dl").glob("*.reason.json"))
    assert notes == ["night.jsonl#0.reason.json", "night.jsonl#1.reason.json"]
    reasons = [json.loads((tmp_path / "dl" / n).read_text())["reason"] for n in notes]
    assert all("missing required field diaSource" in r for r in reasons)


def test_different_files_with_one_name_are_both_kept(tmp_path):
    folder = DeadLetterFolder(tmp_path / "dl")
    a, b = tmp_path / "a" / "x.avro", tmp_path / "b" / "x.avro"
    for p, content in ((a, b"one"), (b, b"two")):
        p.parent.mkdir()
        p.write_bytes(content)
    ka = folder.keep(None, AlertOrigin(path=str(a)), "bad a")
    kb = folder.keep(None, AlertOrigin(path=str(b)), "bad b")
    assert ka != kb and ka.read_bytes() == b"one" and kb.read_bytes() == b"two"


def test_dead_letter_record_for_kafka():
    raw = b"\x07not an alert"
    origin = AlertOrigin(topic="lsst-alerts", partition=1, offset=5, timestamp_ms=123)
    topic, key, value, headers = dead_letter_record(raw, origin, "corrupt message: first byte")
    assert topic == "lsst-alerts.dlq" and value == raw and key == b"lsst-alerts/1/5"
    h = dict(headers)
    assert h["skysift.reason"] == b"corrupt message: first byte"
    assert (h["skysift.source.topic"], h["skysift.source.partition"],
            h["skysift.source.offset"], h["skysift.source.timestamp_ms"]) == (
        b"lsst-alerts", b"1", b"5", b"123")


def test_dead_letter_record_needs_a_topic():
    with pytest.raises(SkysiftError, match="needs the input topic"):
        dead_letter_record(b"x", AlertOrigin(path="a.avro"), "bad")


def test_copy_of_real_file_is_byte_identical(tmp_path):
    src = tmp_path / "f.avro"
    shutil.copy(wire_files()[0], src)
    kept = DeadLetterFolder(tmp_path / "dl").keep(None, AlertOrigin(path=str(src)), "why")
    assert kept.read_bytes() == src.read_bytes()


def test_same_raw_bytes_of_one_file_kept_once(tmp_path):
    folder = DeadLetterFolder(tmp_path / "dl")
    data = b'{"a": 1}\n{"b": 2}\n'
    k0 = folder.keep(data, AlertOrigin(path="/in/n.jsonl", index=0), "bad 0")
    k1 = folder.keep(data, AlertOrigin(path="/in/n.jsonl", index=1), "bad 1")
    assert k0 == k1 and k0.read_bytes() == data
    assert len(list((tmp_path / "dl").glob("*.reason.json"))) == 2
