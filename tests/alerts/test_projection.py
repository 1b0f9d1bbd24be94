"""The default decode projects the history; decode_full and full=True give every field (the same
generated reader keeping every field); all of them equal fastavro's decode (the reference),
value by value, and fail with its errors."""

from __future__ import annotations

import dataclasses
import io
import math
import random
from importlib import resources
from pathlib import Path
from typing import Any

import fastavro
import pytest

from skysift.alerts.decode import decode_full, decode_message, decode_with_fastavro
from skysift.alerts.encode import encode_wire
from skysift.alerts.files import read_alerts
from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.project import HISTORY_FIELDS, fast_reader
from skysift.alerts.renames import record_renames
from skysift.alerts.schemas import available_versions, schema_definition, schema_for_id
from skysift.errors import AlertDecodeError

from .conftest import SSO_FILE, wire_files, with_history
from .test_versions import FROM_7, adapt

ORIGIN = AlertOrigin(topic="t", partition=1, offset=99)
SOURCE_FIELDS = HISTORY_FIELDS["prvDiaSources"][1]
FORCED_FIELDS = HISTORY_FIELDS["prvDiaForcedSources"][1]


def _canon(value: Any) -> Any:
    """``value`` with NaN made comparable (the real alerts carry NaNs; NaN != NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canon(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def _check_projection(fast: Alert, full: Alert) -> None:
    """``fast`` is ``full`` with history items cut to the kept fields, values unchanged."""
    assert fast.diaSourceId == full.diaSourceId and fast.diaObjectId == full.diaObjectId
    assert _canon(fast.diaSource) == _canon(full.diaSource)
    assert _canon(fast.diaObject) == _canon(full.diaObject)
    assert _canon(fast.extra) == _canon(full.extra)
    assert fast.schema_version == full.schema_version and fast.origin == full.origin
    for name, kept in (("prvDiaSources", SOURCE_FIELDS), ("prvDiaForcedSources", FORCED_FIELDS)):
        short, long = getattr(fast, name), getattr(full, name)
        assert len(short) == len(long), name
        for s, f in zip(short, long, strict=True):
            assert set(s) == kept & set(f), (name, set(f) - set(s))
            assert _canon(s) == _canon({k: f[k] for k in s}), name


def _no_bytes(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return False
    if isinstance(value, dict):
        return all(_no_bytes(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_bytes(v) for v in value)
    return True


def _check_pair(data: bytes) -> tuple[Alert, Alert]:
    """The projected decode and the complete one (``full=True``) of ``data``, each checked against
    fastavro's (the reference): returns (projected, reference)."""
    fast = decode_message(data, ORIGIN)
    full = decode_with_fastavro(data, ORIGIN)
    complete = decode_message(data, ORIGIN, full=True)
    assert full.history_complete and full.raw == data and full.cutout_spans == ()
    assert complete.history_complete and complete.raw == data
    assert fast.raw == data
    assert fast.history_complete == (not (full.prvDiaSources or full.prvDiaForcedSources))
    _check_projection(fast, full)
    # every field, raw and history_complete included, equals the reference's; where the cutouts
    # lie is known from the fast readers only (the same places)
    assert complete.cutout_spans == fast.cutout_spans
    assert _canon(dataclasses.replace(complete, cutout_spans=())) == _canon(full)
    again = decode_full(fast)
    assert again.cutout_spans == fast.cutout_spans
    assert _canon(dataclasses.replace(again, cutout_spans=())) == _canon(full)
    assert decode_full(full) is full and decode_full(complete) is complete
    for alert in (fast, full, complete):
        assert not {"cutoutDifference", "cutoutScience", "cutoutTemplate"} & set(alert.extra)
        for part in (alert.diaSource, alert.diaObject, alert.extra, alert.prvDiaSources,
                     alert.prvDiaForcedSources):
            assert _no_bytes(part)
    return fast, full


@pytest.mark.parametrize("version", FROM_7, ids=lambda v: f"{v[0]}.{v[1]}")
@pytest.mark.parametrize("base", [wire_files()[0], SSO_FILE], ids=["object", "solar-system"])
def test_projected_equals_full_every_version(version, base, real_records):
    major, minor = version
    raw = with_history(real_records[base], 4, 3)
    data = encode_wire(adapt(raw, schema_definition(major, minor)), major, minor)
    fast = _check_pair(data)[0]
    assert not fast.history_complete
    assert [s["diaSourceId"] for s in fast.prvDiaSources] == [
        s["diaSourceId"] for s in raw["prvDiaSources"]]
    assert [s["psfFlux"] for s in fast.prvDiaSources] == [
        s["psfFlux"] for s in raw["prvDiaSources"]]
    assert [s["diaForcedSourceId"] for s in fast.prvDiaForcedSources] == [
        s["diaForcedSourceId"] for s in raw["prvDiaForcedSources"]]
    # every field the pipeline reads is there under its newest name
    assert {"diaSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr", "ra",
            "dec"} <= set(fast.prvDiaSources[0])
    assert {"diaForcedSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux",
            "psfFluxErr"} <= set(fast.prvDiaForcedSources[0])


def _packet_samples() -> list[tuple[tuple[int, int], Path]]:
    root = Path(str(resources.files("lsst.alert.packet").joinpath("schema")))
    return [(v, root / str(v[0]) / str(v[1]) / "sample_data" / "fakeAlert.avro")
            for v in available_versions()
            if (root / str(v[0]) / str(v[1]) / "sample_data" / "fakeAlert.avro").is_file()]


@pytest.mark.parametrize("version,path", _packet_samples(), ids=lambda x: str(x))
def test_packet_samples_of_every_version_projected(version, path):
    """lsst-alert-packet's sample of each version (3.0 up), framed and with a history of copies
    of its own diaSource, decodes projected exactly as in full; old names map forward."""
    with path.open("rb") as fh:
        record = next(iter(fastavro.reader(fh)))
    src = record["diaSource"]
    record["prvDiaSources"] = [dict(src, diaSourceId=src["diaSourceId"] - 1 - i)
                               for i in range(3)]
    data = encode_wire(record, *version)
    fast = _check_pair(data)[0]
    assert not fast.history_complete
    assert {"midpointMjdTai", "band", "psfFlux", "dec"} <= set(fast.prvDiaSources[0])
    assert [s["diaSourceId"] for s in fast.prvDiaSources] == [
        s["diaSourceId"] for s in record["prvDiaSources"]]


@pytest.mark.parametrize("version", available_versions(), ids=lambda v: f"{v[0]}.{v[1]}")
def test_reader_projects_every_version(version):
    """The projection is derived for every shipped version: history items keep the wanted
    fields (old names included) and nothing else; cutouts are stepped over."""
    reader = fast_reader(schema_for_id(100 * version[0] + version[1]))
    assert reader is not None and reader.projects
    kinds = {what: kind for kind, what, _ in reader.steps if kind != "avro"}
    assert kinds["prvDiaSources"] == kinds["prvDiaForcedSources"] == "history"
    cutouts = [f["name"] for f in schema_definition(*version)["fields"]
               if f["name"].startswith("cutout")]
    assert cutouts and all(kinds[c] == "skip" for c in cutouts)
    renames = record_renames("diaSource")
    names = {renames.get(f, f) for f in _item_fields(version, "prvDiaSources")}
    assert {"diaSourceId", "midpointMjdTai", "band", "psfFlux", "ra", "dec"} <= names


def _item_fields(version: tuple[int, int], field: str) -> list[str]:
    definition = schema_definition(*version)
    named: dict[str, Any] = {}
    for f in definition["fields"]:
        t = f["type"][-1] if isinstance(f["type"], list) else f["type"]
        if isinstance(t, dict) and t.get("type") == "record":
            named[t["name"]] = t
        if f["name"] == field:
            items = t["items"]
            return [
                x["name"] for x in (named[items] if isinstance(items, str) else items)["fields"]
            ]
    return []


@pytest.mark.parametrize("path", wire_files(), ids=lambda p: p.name)
def test_real_files_fast_and_full_agree(path):
    data = path.read_bytes()
    _check_pair(data)
    (from_file,) = list(read_alerts(path))
    assert from_file.raw == data
    assert _canon(from_file) == _canon(decode_message(data, AlertOrigin(path=str(path))))


def test_read_alerts_framed_file_is_projected(tmp_path, real_records):
    data = encode_wire(with_history(real_records[wire_files()[0]], 5, 2), 9, 0)
    target = tmp_path / "one.avro"
    target.write_bytes(data)
    (alert,) = list(read_alerts(target))
    assert not alert.history_complete and alert.raw == data
    assert _canon(dataclasses.replace(decode_full(alert), cutout_spans=())) == _canon(
        decode_with_fastavro(data, AlertOrigin(path=str(target))))
    assert set(alert.prvDiaSources[0]) == SOURCE_FIELDS


def test_ocf_and_json_are_complete_without_raw(tmp_path, real_records):
    record = with_history(real_records[wire_files()[0]], 2, 1)
    target = tmp_path / "alerts.avro"
    with target.open("wb") as fh:
        fastavro.writer(fh, schema_for_id(900), [record])
    (alert,) = list(read_alerts(target))
    assert alert.history_complete and alert.raw is None
    assert decode_full(alert) is alert
    assert len(alert.prvDiaSources[0]) > len(SOURCE_FIELDS)


def test_empty_history_is_complete(real_records):
    data = encode_wire(with_history(real_records[wire_files()[0]], 0, 0), 9, 0)
    alert = decode_message(data, ORIGIN)
    assert alert.history_complete and decode_full(alert) is alert


def test_projected_without_raw_cannot_be_completed(real_records):
    alert = decode_message(encode_wire(with_history(real_records[wire_files()[0]], 1), 9, 0),
                           ORIGIN)
    alert.raw = None
    with pytest.raises(ValueError, match=r"no raw bytes"):
        decode_full(alert)


# -- errors are the same as the full decode's ----------------------------------------------------


def _outcome(data: bytes, how: str) -> Any:
    """The error, or the complete content, of decoding ``data`` the default way ("fast"), with
    ``full=True`` ("complete") or by the reference ("reference")."""
    try:
        if how == "reference":
            alert = decode_with_fastavro(data, ORIGIN)
        else:
            alert = decode_message(data, ORIGIN, full=how == "complete")
    except AlertDecodeError as exc:
        return type(exc), str(exc), exc.where
    return _canon(dataclasses.replace(decode_full(alert), cutout_spans=()))  # content only


def _outcomes(data: bytes) -> tuple[Any, Any, Any]:
    return _outcome(data, "fast"), _outcome(data, "complete"), _outcome(data, "reference")


def _history_message(real_records: dict[Path, dict[str, Any]]) -> bytes:
    return encode_wire(with_history(real_records[wire_files()[0]], 6, 4), 9, 0)


def test_trailing_bytes_after_projected_history(real_records):
    data = _history_message(real_records) + b"\x00\x01"
    with pytest.raises(AlertDecodeError, match=r"2 bytes left after the schema 9.0 record") as info:
        decode_message(data, ORIGIN)
    assert info.value.offset == 99 and info.value.topic == "t"
    fast, complete, full = _outcomes(data)
    assert fast == complete == full


def test_truncation_anywhere_fails_as_before(real_records):
    data = _history_message(real_records)
    cuts = sorted({5, 6, 7, 50, len(data) - 1} | set(random.Random(1).sample(range(5, len(data)),
                                                                             60)))
    for cut in cuts:
        fast, complete, full = _outcomes(data[:cut])
        assert fast == complete == full, cut
        assert isinstance(fast, tuple) and "truncated message" in fast[1], (cut, fast)


def _history_span(data: bytes) -> tuple[int, int]:
    """Byte offsets of the history arrays in a v9 message (after diaSource, before diaObject)."""
    parsed = schema_for_id(900)
    head = fastavro.parse_schema({"type": "record", "name": "head", "fields": [
        f for f in schema_definition(9, 0)["fields"] if f["name"] in (
            "diaSourceId", "observation_reason", "target_name", "diaSource")]})
    stream = io.BytesIO(data[5:])
    fastavro.schemaless_reader(stream, head, None)
    start = stream.tell() + 5
    rest = fastavro.parse_schema({"type": "record", "name": "hist", "fields": [
        dict(f, type=t) for f, t in zip(
            [f for f in schema_definition(9, 0)["fields"] if f["name"].startswith("prv")],
            [f["type"] for f in parsed["fields"] if f["name"].startswith("prv")], strict=True)]},
        named_schemas=dict(parsed["__named_schemas"]))
    fastavro.schemaless_reader(stream, rest, None)
    return start, stream.tell() + 5


def test_corruption_anywhere_fails_or_decodes_as_before(real_records):
    """Bytes changed at random places, many inside the projected history: the default decode
    raises exactly the full decode's error, or both succeed with the same complete alert."""
    data = _history_message(real_records)
    lo, hi = _history_span(data)
    rng = random.Random(7)
    places = [rng.randrange(lo, hi) for _ in range(150)] + [
        rng.randrange(5, len(data)) for _ in range(50)]
    errors = 0
    for i, at in enumerate(places):
        bad = bytearray(data)
        bad[at] = rng.choice([0x00, 0x01, 0x03, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        fast, complete, full = _outcomes(bytes(bad))
        assert fast == complete == full, (i, at, fast if isinstance(fast, tuple) else "decoded",
                                          complete if isinstance(complete, tuple) else "decoded")
        errors += isinstance(fast, tuple)
    assert errors > 20  # the test does exercise failures


def test_invalid_utf8_in_a_skipped_history_string_fails_as_before(real_records):
    record = with_history(real_records[wire_files()[0]], 2)
    record["prvDiaSources"][1]["band"] = "\u00e9"  # 2 bytes in UTF-8: c3 a9
    data = encode_wire(record, 9, 0)
    at = data.rindex("\u00e9".encode())
    bad = data[:at] + b"\xff\xfe" + data[at + 2:]
    fast, complete, full = _outcomes(bad)
    assert fast == complete == full and "not UTF-8" in fast[1]


def test_wrong_known_schema_id_fails_as_before():
    body = wire_files()[0].read_bytes()[5:]
    for sid in (701, 800, 1000, 1101):
        data = b"\x00" + sid.to_bytes(4, "big") + body
        fast, complete, full = _outcomes(data)
        assert fast == complete == full, sid


# ------------------------------------------------------------------ the item expression
def _zigzag_bytes(value: int) -> bytes:
    z = (value << 1) ^ (value >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def test_varint_from_bytes_equals_the_byte_loop():
    """varint (mask-and-shift on the whole varint) gives read_long's value for every length, for
    64-bit extremes, and for any 10-byte varint (whose last byte may carry bits above 63)."""
    from skysift.alerts.avrocode import read_long as _long
    from skysift.alerts.avrocode import varint as _varint

    rng = random.Random(3)
    values = [0, 1, -1, 63, -64, 64, 300, -300, 2**31, -(2**31), 2**63 - 1, -(2**63),
              170_000_000_000_000_123, 9_100_000_000_000_123_456]
    values += [rng.randrange(-(2**63), 2**63) >> rng.randrange(64) for _ in range(2000)]
    for v in values:
        b = _zigzag_bytes(v)
        assert _varint(b) == _long(b, 0)[0] == v, v
    for _ in range(2000):  # arbitrary valid varints of 1..10 bytes (a 10th byte holds bit 63)
        n = rng.randint(1, 10)
        b = bytes(rng.randrange(0x80, 0x100) for _ in range(n - 1)) + bytes(
            [rng.randrange(2 if n == 10 else 0x80)])
        assert _varint(b) == _long(b, 0)[0], b.hex()


def test_varint_beyond_64_bits_is_left_to_fastavro():
    """A 10-byte varint whose last byte carries bits beyond 64 (corrupt: fastavro wraps it to 64
    bits) is refused by the fast readers, so the alert gets fastavro's value: in a wanted field
    (diaObjectId) of a history item, read by the projected and by the complete reader."""
    from skysift.alerts.avrocode import _VARINT, FastDecodeError
    from skysift.alerts.avrocode import read_long as _long

    import re

    over = b"\x80" * 9 + b"\x03"
    with pytest.raises(FastDecodeError, match="beyond 64 bits"):
        _long(over, 0)
    assert re.fullmatch(_VARINT, over, re.DOTALL) is None
    assert re.fullmatch(_VARINT, b"\x80" * 9 + b"\x01", re.DOTALL) is not None


def test_history_id_beyond_64_bits_decodes_as_fastavro(real_records):
    """The same, end to end: one history item's diaObjectId written as a 10-byte varint with a
    bit beyond 64 decodes to fastavro's (wrapped) value by the projected and complete decodes."""
    record = with_history(real_records[wire_files()[0]], 3, 0)
    oid = 2**61 + 12345  # 9 bytes as a zig-zag varint
    record["prvDiaSources"][1]["diaObjectId"] = oid
    data = encode_wire(record, 9, 0)
    good = _zigzag_bytes(oid)
    assert data.count(good) == 1 and len(good) == 9
    bad = data.replace(good, good[:8] + bytes([good[8] | 0x80]) + b"\x02")
    full = decode_with_fastavro(bad, ORIGIN)
    wrapped = full.prvDiaSources[1]["diaObjectId"]
    assert wrapped == oid  # fastavro drops the bit beyond 64
    for alert in (decode_message(bad, ORIGIN), decode_message(bad, ORIGIN, full=True)):
        assert alert.prvDiaSources[1]["diaObjectId"] == wrapped
    fast, complete, reference = _outcomes(bad)
    assert fast == complete == reference


def test_history_items_are_read_by_one_expression_for_every_version():
    """Every shipped version's history items are covered by the one-match item expression
    (the field-by-field reader is then only the fallback), projected and complete (every
    field captured: the complete reader never projects)."""
    for major, minor in available_versions():
        if (major, minor) < (7, 0):
            continue
        for complete in (False, True):
            reader = fast_reader(schema_for_id(100 * major + minor), complete=complete)
            assert reader is not None and reader.projects is not complete
            histories = [extra for kind, _name, extra in reader.steps if kind == "history"]
            if complete and (major, minor) == (8, 0):
                # 8.0's items carry timestamp-micros fields (a logical type, which fastavro
                # turns into datetimes): read completely, its history stays with fastavro
                assert histories == []
                continue
            assert histories and all(h.item_expression for h in histories), (major, minor)


@pytest.mark.parametrize("band", ["\u00e9", "x" * 64, "y" * 200, ""],
                         ids=["non-ascii", "64-chars", "200-chars", "empty"])
def test_items_the_expression_does_not_match_are_read_field_by_field(band, real_records):
    """A history item with a string the item expression does not cover (non-ASCII, 64 or more
    characters) is read by the field-by-field fallback, between items that are not: every
    value is still exactly the full decode's."""
    record = with_history(real_records[wire_files()[0]], 5, 4)
    record["prvDiaSources"][2]["band"] = band
    record["prvDiaForcedSources"][0]["band"] = band
    data = encode_wire(record, 9, 0)
    fast, full = _check_pair(data)
    assert fast.prvDiaSources[2]["band"] == band == full.prvDiaSources[2]["band"]
    assert [s["diaSourceId"] for s in fast.prvDiaSources] == [
        s["diaSourceId"] for s in record["prvDiaSources"]]


def test_item_ids_keep_their_own_values_when_objects_differ(real_records):
    """The repeated diaObjectId is converted once per run of equal bytes: items whose
    diaObjectIds differ still get their own. (A null one belongs to the alert's diaObject:
    tests/alerts/test_sample_object_ids.py.)"""
    record = with_history(real_records[wire_files()[0]], 6, 4)
    ids = [5, 2**40 + 1, 2**62 + 7, 2**62 + 7, -3, 5]
    for item, oid in zip(record["prvDiaSources"], ids, strict=False):
        item["diaObjectId"] = oid
    fast, _full = _check_pair(encode_wire(record, 9, 0))
    assert [s["diaObjectId"] for s in fast.prvDiaSources] == ids
