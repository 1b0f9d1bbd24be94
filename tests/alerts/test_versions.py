"""Every shipped schema version from 7.0 up round-trips, and old field names map forward."""

from __future__ import annotations

import json
from datetime import datetime, UTC
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from skysift.alerts.decode import decode_message
from skysift.alerts.encode import encode_wire
from skysift.alerts.files import read_alerts
from skysift.alerts.model import AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.alerts.renames import record_renames
from skysift.alerts.schemas import available_versions, schema_definition, schema_for_id

from .conftest import SSO_FILE, wire_files, with_history

ORIGIN = AlertOrigin(topic="t", partition=0, offset=7)
FROM_7 = [v for v in available_versions() if v >= (7, 0)]
# The v9 record's id is the 7.x alert's alertId (the test's own knowledge of the 8.0 rename).
ALERT_ID_NAMES = {"alertId": "diaSourceId"}


def _named(schema: Any, found: dict[str, Any]) -> dict[str, Any]:
    """Every named record of an expanded schema, by full name (later uses are by name)."""
    if isinstance(schema, list):
        for t in schema:
            _named(t, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            found[schema["name"]] = schema
            for f in schema["fields"]:
                _named(f["type"], found)
        elif schema.get("type") == "array":
            _named(schema["items"], found)
    return found


NAMED: dict[str, Any] = {}


def _resolve(t: Any) -> Any:
    return NAMED.get(t, t) if isinstance(t, str) else t


def _filler(ftype: Any) -> Any:
    ftype = _resolve(ftype)
    if isinstance(ftype, list):
        return None if "null" in ftype else _filler(ftype[0])
    if isinstance(ftype, dict):
        kind = ftype["type"]
        if kind == "record":
            return adapt({}, ftype)
        if kind == "array":
            return []
        return _filler(kind)
    return {"long": 0, "int": 0, "float": 0.0, "double": 0.0, "string": "", "boolean": False,
            "bytes": b""}.get(ftype)


def _record_type(ftype: Any) -> dict[str, Any] | None:
    inner = next(t for t in ftype if t != "null") if isinstance(ftype, list) else ftype
    inner = _resolve(inner)
    if isinstance(inner, dict) and inner["type"] == "array":
        inner = dict(inner, items=_resolve(inner["items"]))
    return inner if isinstance(inner, dict) else None


def adapt(value: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``value`` reshaped to a record schema: its fields kept, missing ones filled with the
    default or a zero of their type, fields the schema lacks dropped."""
    _named(schema, NAMED)
    out: dict[str, Any] = {}
    for field in schema["fields"]:
        name, ftype = field["name"], field["type"]
        source_name = ALERT_ID_NAMES.get(name, name) if schema["name"].endswith(".alert") else name
        if source_name in value and value[source_name] is not None:
            item = value[source_name]
            inner = _record_type(ftype)
            if inner is not None and inner["type"] == "record":
                item = adapt(item, inner)
            elif inner is not None and inner["type"] == "array":
                item = [adapt(x, inner["items"]) for x in item]
            out[name] = item
        elif "default" in field:
            out[name] = field["default"]
        else:
            out[name] = _filler(ftype)
    return out


@pytest.mark.parametrize("version", FROM_7, ids=lambda v: f"{v[0]}.{v[1]}")
@pytest.mark.parametrize("base", [wire_files()[0], SSO_FILE], ids=["object", "solar-system"])
def test_round_trip_every_version(version, base, real_records):
    major, minor = version
    raw = with_history(real_records[base], 3, 2)
    old = adapt(raw, schema_definition(major, minor))
    data = encode_wire(old, major, minor)
    assert data[:5] == b"\x00" + (100 * major + minor).to_bytes(4, "big")
    alert = decode_message(data, ORIGIN)

    src = raw["diaSource"]
    assert alert.schema_version == f"{major}.{minor}"
    assert alert.diaSourceId == raw["diaSourceId"]
    assert alert.diaObjectId == (src["diaObjectId"] or None)
    for name in ("diaSourceId", "midpointMjdTai", "psfFlux", "ra", "dec", "band", "ssObjectId"):
        assert alert.diaSource[name] == src[name], name
    assert [s["diaSourceId"] for s in alert.prvDiaSources] == [
        s["diaSourceId"] for s in raw["prvDiaSources"]]
    assert [s["psfFlux"] for s in alert.prvDiaSources] == [
        s["psfFlux"] for s in raw["prvDiaSources"]]
    assert [s["midpointMjdTai"] for s in alert.prvDiaForcedSources] == [
        s["midpointMjdTai"] for s in raw["prvDiaForcedSources"]]
    assert not {"alertId", "MPCORB", "cutoutScience"} & set(alert.extra)
    if version < (8, 0):
        assert "ssObject" in alert.extra and "prvDiaNondetectionLimits" in alert.extra
    if version >= (8, 0):
        assert alert.extra["observation_reason"] == raw["observation_reason"]


def _sample_dirs() -> list[tuple[tuple[int, int], Path]]:
    root = Path(str(resources.files("lsst.alert.packet").joinpath("schema")))
    return [(v, root / str(v[0]) / str(v[1]) / "sample_data") for v in available_versions()
            if (root / str(v[0]) / str(v[1]) / "sample_data" / "fakeAlert.avro").is_file()]


@pytest.mark.parametrize("version,folder", _sample_dirs(), ids=lambda x: str(x))
def test_packet_samples_of_every_version(version, folder):
    """lsst-alert-packet's own sample of each version (Avro file and JSON) normalises alike."""
    from_avro = list(read_alerts(folder / "fakeAlert.avro"))
    from_json = list(read_alerts(folder / "alert.json"))
    assert len(from_avro) == 1 and len(from_json) == 1
    a, j = from_avro[0], from_json[0]
    assert not isinstance(a, Exception), a
    assert not isinstance(j, Exception), j
    sample = json.loads((folder / "alert.json").read_text())
    assert a.schema_version == f"{version[0]}.{version[1]}"
    assert a.diaSourceId == j.diaSourceId == sample.get("diaSourceId", sample.get("alertId"))
    assert a.diaSource["midpointMjdTai"] == j.diaSource["midpointMjdTai"]
    assert a.diaSource["dec"] == j.diaSource["dec"]
    assert len(a.prvDiaSources) == len(sample.get("prvDiaSources") or [])


def test_v4_to_v5_rules_land_on_real_v5_names():
    """Every derived rename of the 3.0/4.0 names is a field of 5.0 or later."""
    def fields(major: int, minor: int, kind: str) -> set[str]:
        for f in schema_definition(major, minor)["fields"]:
            t = f["type"][-1] if isinstance(f["type"], list) else f["type"]
            t = t["items"] if isinstance(t, dict) and t.get("type") == "array" else t
            if isinstance(t, dict) and t["name"].endswith("." + kind):
                return {x["name"] for x in t["fields"]}
        return set()

    for kind in ("diaSource", "diaForcedSource", "diaObject"):
        renames = record_renames(kind)
        newer = set().union(*(fields(*v, kind) for v in available_versions() if v >= (5, 0)))
        assert renames and set(renames.values()) <= newer, kind
        old = fields(4, 0, kind)
        left = {n for n in old if n not in renames and n not in fields(5, 0, kind)}
        assert left <= {"diffFlux", "diffFluxErr", "spuriousness"}, left


def test_v4_names_are_mapped():
    old_source = {"diaSourceId": 5, "diaObjectId": 6, "midPointTai": 60000.5, "filterName": "g",
                  "psFlux": 12.5, "ra": 10.0, "decl": -5.0, "psFlux_psDecl_Cov": 0.1}
    alert = normalise_lsst({"alertId": 5, "diaSource": old_source,
                            "diaObject": {"diaObjectId": 6, "uPSFluxMean": 3.0}}, "4.0", ORIGIN)
    assert alert.diaSource["midpointMjdTai"] == 60000.5 and alert.diaSource["band"] == "g"
    assert alert.diaSource["psfFlux"] == 12.5 and alert.diaSource["dec"] == -5.0
    assert alert.diaSource["psfFlux_psfDec_Cov"] == 0.1
    assert alert.diaObject == {"diaObjectId": 6, "u_psfFluxMean": 3.0}


def test_v8_timestamps_become_mjd_tai(real_records):
    raw = with_history(real_records[wire_files()[0]], 1)
    old = adapt(raw, schema_definition(8, 0))
    when = datetime(2025, 9, 5, 8, 0, tzinfo=UTC)
    old["diaSource"]["time_processed"] = when
    alert = decode_message(encode_wire(old, 8, 0), ORIGIN)
    expected = 40587 + (when.timestamp() + 37) / 86400
    assert alert.diaSource["timeProcessedMjdTai"] == pytest.approx(expected, abs=1e-9)
    assert "time_processed" not in alert.diaSource


def test_v9_ss_source_names_are_mapped(real_records):
    raw = real_records[SSO_FILE]
    alert = decode_message(SSO_FILE.read_bytes(), ORIGIN)
    ss = alert.extra["ssSource"]
    assert ss["helio_x"] == raw["ssSource"]["heliocentricX"]
    assert ss["topoRange"] == raw["ssSource"]["topocentricDist"]
    assert "heliocentricX" not in ss


def test_schema_for_id_is_cached_and_ids_follow_versions():
    assert schema_for_id(900) is schema_for_id(900)
    assert (7, 0) in available_versions() and (11, 1) in available_versions()
    for major, minor in available_versions():
        assert schema_for_id(100 * major + minor)["name"] == f"lsst.v{major}_{minor}.alert"


def test_old_field_names_read_from_each_kind_file_equal_the_expanded_alert_schemas():
    """The renames are derived from each old version's own ``<kind>.avsc`` read as plain JSON (a
    worker's start); the names, in order, equal those of the alert schema fastavro expands."""
    from skysift.alerts.renames import _old_fields

    for kind in ("diaSource", "diaForcedSource", "diaObject"):
        expanded: list[str] = []
        for major, minor in available_versions():
            if major >= 8:
                continue
            for f in schema_definition(major, minor)["fields"]:
                t = f["type"][-1] if isinstance(f["type"], list) else f["type"]
                t = t["items"] if isinstance(t, dict) and t.get("type") == "array" else t
                if isinstance(t, dict) and str(t.get("name", "")).endswith("." + kind):
                    expanded.extend(x["name"] for x in t["fields"])
        assert expanded and _old_fields(kind) == expanded, kind


def test_schema_folder_is_found_without_importing_lsst_alert_packet():
    """``_schema_root`` finds lsst-alert-packet's schema folder without importing the package
    (its import costs ~0.1 s at every start); the folder is the one the package names."""
    import subprocess
    import sys

    code = ("import sys; from skysift.alerts.schemas import _schema_root, available_versions; "
            "print(_schema_root()); print(len(available_versions())); "
            "print('lsst.alert.packet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert Path(out[0]) == Path(str(resources.files("lsst.alert.packet").joinpath("schema")))
    assert int(out[1]) == len(available_versions())
    assert out[2] == "False"
