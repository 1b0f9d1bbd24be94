"""Alert files: every form (framing, Avro containers incl. fink-style, JSON), and bad files."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import pytest

from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.alerts.model import Alert
from skysift.alerts.schemas import schema_definition
from skysift.errors import AlertDecodeError, UnknownSchemaError

from .conftest import SSO_FILE, wire_files, with_history


def nullable(schema: Any, top: bool = True) -> Any:
    """A schema where every field is nullable with default null, the record named
    topLevelRecord and nested records renamed Spark-style, as fink re-serialises alerts."""
    if isinstance(schema, list):
        return [nullable(t, False) for t in schema]
    if isinstance(schema, str):
        return schema.replace("lsst.v9_0.", "topLevelRecord.")
    if schema.get("type") == "array":
        return dict(schema, items=nullable(schema["items"], False))
    if schema.get("type") != "record":
        return schema
    fields = []
    for f in schema["fields"]:
        t = nullable(f["type"], False)
        if not (isinstance(t, list) and "null" in t):
            t = ["null", *(t if isinstance(t, list) else [t])]
        elif t[0] != "null":
            t = ["null", *[x for x in t if x != "null"]]
        fields.append({"name": f["name"], "type": t, "default": None})
    name = "topLevelRecord" if top else schema["name"].replace("lsst.v9_0.", "topLevelRecord.")
    return {"type": "record", "name": name, "fields": fields}


def _ok(items: list) -> list[Alert]:
    return [a for a in items if isinstance(a, Alert)]


def _errors(items: list) -> list[AlertDecodeError]:
    return [e for e in items if isinstance(e, AlertDecodeError)]


@pytest.fixture
def records(real_records) -> list[dict[str, Any]]:
    out = [with_history(r, 2, 1) for r in real_records.values()]
    return out


def test_wire_file(rubin_dir, real_records):
    [alert] = list(read_alerts(SSO_FILE))
    assert alert.diaSourceId == real_records[SSO_FILE]["diaSourceId"]
    assert alert.origin.path == str(SSO_FILE)


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_official_ocf_many_records(tmp_path, records, codec):
    path = tmp_path / "night.avro"
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema_definition(9, 0)), records, codec=codec)
    got = list(read_alerts(path))
    assert not _errors(got)
    assert [a.diaSourceId for a in got] == [r["diaSourceId"] for r in records]
    assert [a.origin.index for a in got] == list(range(len(records)))
    assert all(a.schema_version == "9.0" for a in got)
    assert [len(a.prvDiaSources) for a in got] == [2] * len(records)


def test_fink_style_all_nullable_top_level_record(tmp_path, records):
    schema = nullable(copy.deepcopy(schema_definition(9, 0)))
    assert schema["name"] == "topLevelRecord"
    for r in records:
        r["fink_score"] = 0.5  # re-serialisers add their own fields
    schema["fields"].append({"name": "fink_score", "type": ["null", "double"], "default": None})
    path = tmp_path / "fink.avro"
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema), records, codec="deflate")
    got = list(read_alerts(path))
    assert not _errors(got)
    assert [a.diaSourceId for a in got] == [r["diaSourceId"] for r in records]
    sso = next(a for a in got if a.diaSourceId == int(SSO_FILE.stem))
    assert sso.diaObjectId is None and "mpc_orbits" in sso.extra
    assert all(a.schema_version == "9.0" for a in got)  # inferred from the field names
    assert all(a.extra["fink_score"] == 0.5 for a in got)
    assert [a.diaSource["psfFlux"] for a in got] == [r["diaSource"]["psfFlux"] for r in records]


def _block_starts(data: bytes, sync: bytes) -> list[int]:
    starts, pos = [], data.find(sync) + 16
    while pos < len(data):
        starts.append(pos)
        pos = data.find(sync, pos) + 16
        if pos == 15:
            break
    return starts


def _one_record_per_block(tmp_path: Path, records: list[dict]) -> tuple[Path, bytes, list[int]]:
    path = tmp_path / "blocks.avro"
    with path.open("wb") as fh:
        fastavro.writer(fh, fastavro.parse_schema(schema_definition(9, 0)), records,
                        sync_interval=1)
    data = path.read_bytes()
    with path.open("rb") as fh:
        sync = fastavro.reader(fh)._header["sync"]
    starts = _block_starts(data, sync)
    assert len(starts) == len(records)
    return path, data, starts


def test_corrupt_record_in_ocf_keeps_the_good_ones(tmp_path, records):
    path, data, starts = _one_record_per_block(tmp_path, records)
    bad = bytearray(data)
    # block = count varint (1 byte), size varint (3 bytes here), record: diaSourceId varint...
    # then observation_reason's union index: make it impossible
    body = starts[2] + 1 + len(_varint(len_of_block(data, starts[2])))
    id_len = len(_varint(_zigzag(records[2]["diaSourceId"])))
    bad[body + id_len] = 0x7F
    path.write_bytes(bytes(bad))
    got = list(read_alerts(path))
    errors = _errors(got)
    assert len(errors) == 1 and errors[0].record == 2 and errors[0].path == str(path)
    assert "corrupt Avro record" in errors[0].message
    expected = [r["diaSourceId"] for i, r in enumerate(records) if i != 2]
    assert [a.diaSourceId for a in _ok(got)] == expected


def test_broken_block_framing_skips_to_next_sync(tmp_path, records):
    path, data, starts = _one_record_per_block(tmp_path, records)
    bad = bytearray(data)
    bad[starts[3] - 1] ^= 0xFF  # the sync marker after block 2
    path.write_bytes(bytes(bad))
    got = list(read_alerts(path))
    errors = _errors(got)
    assert len(errors) == 1 and "broken block" in errors[0].message
    kept = [a.diaSourceId for a in _ok(got)]
    assert kept == [r["diaSourceId"] for i, r in enumerate(records) if i not in (2, 3)]


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def len_of_block(data: bytes, start: int) -> int:
    """The zig-zag-encoded size field of the block at ``start`` (after its 1-byte count)."""
    pos, shift, acc = start + 1, 0, 0
    while True:
        byte = data[pos]
        acc |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return acc
        shift += 7


def test_json_object_array_and_lines(tmp_path, records):
    def jsonable(r: dict) -> dict:
        return {k: v for k, v in r.items() if not k.startswith("cutout")}

    one = tmp_path / "one.json"
    one.write_text(json.dumps(jsonable(records[0])))
    arr = tmp_path / "many.json"
    arr.write_text(json.dumps([jsonable(r) for r in records]))
    lines = tmp_path / "many.jsonl"
    lines.write_text("\n".join(json.dumps(jsonable(r)) for r in records) + "\n")
    [a] = list(read_alerts(one))
    assert a.diaSourceId == records[0]["diaSourceId"] and a.schema_version == "9.0"
    for path in (arr, lines):
        got = list(read_alerts(path))
        assert not _errors(got)
        assert [x.diaSourceId for x in got] == [r["diaSourceId"] for r in records]
        assert [x.diaSource["diaObjectId"] for x in got] == [
            r["diaSource"]["diaObjectId"] for r in records]


def test_json_64bit_ids_stay_exact(tmp_path):
    big = 2**63 - 3
    text = (f'{{"diaSourceId": {big}, "diaSource": {{"diaSourceId": {big}, '
            f'"diaObjectId": {big - 1}, '
            '"midpointMjdTai": 60924.5, "band": "r", "psfFlux": 1.5, "ra": 1.0, "dec": 2.0},'
            ' "cutoutScience": "aGVsbG8="}')
    path = tmp_path / "big.json"
    path.write_text(text)
    [a] = list(read_alerts(path))
    assert a.diaSourceId == big and a.diaObjectId == big - 1
    assert a.diaSource["diaSourceId"] == big and "cutoutScience" not in a.extra


def test_json_float_id_is_refused(tmp_path):
    path = tmp_path / "float.json"
    path.write_text('{"diaSourceId": 1.6929843259847478e17, "diaSource": {}}')
    [err] = list(read_alerts(path))
    assert isinstance(err, AlertDecodeError)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty file"),
        (b'{"hello": "world"}', "missing required field diaSource"),
        (b"[1, 2]", "not an alert"),
        (b"{not json", "not valid JSON"),
        (b"GIF89a....", "unrecognised content"),
        (b"Obj\x01\x00", "corrupt Avro file"),
    ],
    ids=["empty", "json-not-alert", "json-array-of-numbers", "bad-json", "gif", "bad-ocf"],
)
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    got = list(read_alerts(path))
    assert got and all(isinstance(e, AlertDecodeError) for e in got)
    assert message in got[0].message and got[0].path == str(path)


def test_missing_file_is_one_error(tmp_path):
    [err] = list(read_alerts(tmp_path / "nope.avro"))
    assert isinstance(err, AlertDecodeError) and "cannot read file" in err.message


def test_wire_file_with_unknown_schema(tmp_path):
    path = tmp_path / "x.alert"
    path.write_bytes(b"\x00\x00\x00\x00\x07" + wire_files()[0].read_bytes()[5:])
    [err] = list(read_alerts(path))
    assert isinstance(err, UnknownSchemaError) and err.path == str(path)


def test_directory_with_one_bad_file(tmp_path):
    root = tmp_path / "alerts"
    (root / "sub").mkdir(parents=True)
    for i, f in enumerate(wire_files()):
        shutil.copy(f, (root / "sub" if i % 2 else root) / f.name)
    (root / "broken.avro").write_bytes(wire_files()[0].read_bytes()[:300])
    (root / "README").write_text("not an alert")
    (root / ".hidden.avro").write_bytes(b"junk")
    (root / "x.avro.reason.json").write_text("{}")
    files = list(iter_alert_files([root]))
    assert files == sorted(files)
    assert {p.name for p in files} == {f.name for f in wire_files()} | {"broken.avro"}
    got = [item for p in files for item in read_alerts(p)]
    assert len(_errors(got)) == 1 and _errors(got)[0].path.endswith("broken.avro")
    assert sorted(a.diaSourceId for a in _ok(got)) == sorted(
        int(f.stem) for f in wire_files())


def test_named_file_is_kept_whatever_its_name(tmp_path):
    path = tmp_path / "no_suffix"
    shutil.copy(SSO_FILE, path)
    assert list(iter_alert_files([path])) == [path]
    [a] = list(read_alerts(path))
    assert a.diaSourceId == int(SSO_FILE.stem)


def test_json_lines_without_jsonl_suffix(tmp_path, records):
    path = tmp_path / "lines.json"
    rows = [{k: v for k, v in r.items() if not k.startswith("cutout")} for r in records[:3]]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n")
    got = list(read_alerts(path))
    assert [a.diaSourceId for a in _ok(got)] == [r["diaSourceId"] for r in rows]
    [err] = _errors(got)
    assert "not valid JSON on line 5" in err.message and err.record == 3
