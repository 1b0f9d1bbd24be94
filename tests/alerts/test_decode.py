"""decode_message on real Rubin-framed alerts, and every kind of bad message."""

from __future__ import annotations

import struct

import pytest

from skysift.alerts.decode import decode_message
from skysift.alerts.encode import encode_wire
from skysift.alerts.model import AlertOrigin
from skysift.errors import AlertDecodeError, UnknownSchemaError

from .conftest import SSO_FILE, wire_files, with_history

ORIGIN = AlertOrigin(topic="lsst-alerts", partition=3, offset=1234)


def _check_where(err: AlertDecodeError) -> None:
    assert err.topic == "lsst-alerts" and err.partition == 3 and err.offset == 1234
    assert "lsst-alerts" in str(err) and "offset=1234" in str(err)


@pytest.mark.parametrize("path", wire_files(), ids=lambda p: p.name)
def test_real_file_decodes_to_its_record(path, real_records):
    raw = real_records[path]
    alert = decode_message(path.read_bytes(), ORIGIN)
    assert alert.diaSourceId == raw["diaSourceId"]
    assert type(alert.diaSourceId) is int
    assert alert.diaSource["psfFlux"] == raw["diaSource"]["psfFlux"]
    assert alert.diaSource["midpointMjdTai"] == raw["diaSource"]["midpointMjdTai"]
    assert alert.schema_version == "9.0" and alert.survey == "lsst" and alert.origin == ORIGIN
    assert not {"cutoutDifference", "cutoutScience", "cutoutTemplate"} & set(alert.extra)
    assert not any(isinstance(v, bytes) for v in alert.diaSource.values())
    expected_object = raw["diaSource"]["diaObjectId"] or None
    assert alert.diaObjectId == expected_object


def test_64bit_ids_are_exact_through_framing(real_records):
    raw = with_history(real_records[wire_files()[0]], 2)
    big = 2**63 - 1
    raw["diaSourceId"] = raw["diaSource"]["diaSourceId"] = big
    raw["diaSource"]["diaObjectId"] = big - 1
    raw["prvDiaSources"][0]["diaSourceId"] = big - 2
    alert = decode_message(encode_wire(raw, 9, 0), ORIGIN)
    assert alert.diaSourceId == big and alert.diaObjectId == big - 1
    assert alert.prvDiaSources[0]["diaSourceId"] == big - 2


def test_history_is_kept(real_records):
    raw = with_history(real_records[wire_files()[0]], 30, 12)
    alert = decode_message(encode_wire(raw, 9, 0), ORIGIN)
    assert [s["diaSourceId"] for s in alert.prvDiaSources] == [
        s["diaSourceId"] for s in raw["prvDiaSources"]]
    assert [s["midpointMjdTai"] for s in alert.prvDiaForcedSources] == [
        s["midpointMjdTai"] for s in raw["prvDiaForcedSources"]]


def test_solar_system_alert_has_no_object_id_and_mpc_orbits(real_records):
    raw = real_records[SSO_FILE]
    alert = decode_message(SSO_FILE.read_bytes(), ORIGIN)
    assert alert.diaObjectId is None and alert.diaObject is None
    assert alert.diaSource["ssObjectId"] == raw["diaSource"]["ssObjectId"]
    assert "MPCORB" not in alert.extra
    assert alert.extra["mpc_orbits"]["designation"] == raw["MPCORB"]["mpcDesignation"]
    assert alert.extra["ssSource"]["ssObjectId"] == raw["ssSource"]["ssObjectId"]


def test_empty_message():
    with pytest.raises(AlertDecodeError, match=r"empty message") as info:
        decode_message(b"", ORIGIN)
    _check_where(info.value)


def test_truncated_header():
    with pytest.raises(AlertDecodeError, match=r"truncated message") as info:
        decode_message(b"\x00\x00\x03", ORIGIN)
    _check_where(info.value)


@pytest.mark.parametrize("keep", [6, 100, 5000, -1])
def test_truncated_body(keep):
    data = wire_files()[0].read_bytes()
    with pytest.raises(AlertDecodeError, match=r"truncated message") as info:
        decode_message(data[:keep], ORIGIN)
    assert not isinstance(info.value, UnknownSchemaError)
    _check_where(info.value)


def test_wrong_magic_byte():
    data = bytearray(wire_files()[0].read_bytes())
    data[0] = 0x4F
    with pytest.raises(AlertDecodeError, match=r"corrupt message: first byte is 0x4f") as info:
        decode_message(bytes(data), ORIGIN)
    _check_where(info.value)


def test_corrupt_body():
    data = wire_files()[0].read_bytes()
    # the body's first bytes are the diaSourceId varint then a union index: make the union
    # index impossible (zig-zag 0x7f = -64)
    bad = data[:5] + b"\x02\x7f" + data[7:]
    with pytest.raises(AlertDecodeError, match=r"corrupt") as info:
        decode_message(bad, ORIGIN)
    _check_where(info.value)


def test_trailing_bytes_are_corrupt():
    data = wire_files()[0].read_bytes() + b"\x00\x01"
    with pytest.raises(AlertDecodeError, match=r"2 bytes left after"):
        decode_message(data, ORIGIN)


def test_unknown_schema_id():
    body = wire_files()[0].read_bytes()[5:]
    with pytest.raises(UnknownSchemaError, match=r"unknown schema id 1234") as info:
        decode_message(b"\x00" + struct.pack(">I", 1234) + body, ORIGIN)
    assert info.value.schema_id == 1234
    _check_where(info.value)


def test_wrong_but_known_schema_id_fails():
    body = wire_files()[0].read_bytes()[5:]
    with pytest.raises(AlertDecodeError) as info:
        decode_message(b"\x00" + struct.pack(">I", 701) + body, ORIGIN)
    _check_where(info.value)


@pytest.mark.parametrize("field", ["psfFlux", "band", "midpointMjdTai"])
def test_missing_required_field(real_records, field):
    raw = with_history(real_records[wire_files()[0]], 0)
    if field == "midpointMjdTai":  # not nullable in the schema: null it after decoding instead
        from skysift.alerts.normalise import normalise_lsst

        raw["diaSource"].pop(field)
        with pytest.raises(AlertDecodeError, match=f"missing required field diaSource.{field}"):
            normalise_lsst(raw, "9.0", ORIGIN)
        return
    raw["diaSource"][field] = None
    with pytest.raises(AlertDecodeError, match=f"missing required field diaSource.{field}") as info:
        decode_message(encode_wire(raw, 9, 0), ORIGIN)
    _check_where(info.value)


def test_missing_object_ids(real_records):
    raw = with_history(real_records[wire_files()[0]], 0)
    raw["diaSource"]["diaObjectId"] = None
    raw["diaObject"] = None
    with pytest.raises(AlertDecodeError, match=r"missing required field diaSource.diaObjectId"):
        decode_message(encode_wire(raw, 9, 0), ORIGIN)
