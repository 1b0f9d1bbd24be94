"""Alerts with a history: lite and full records carry all of it; history is stored once."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from skysift.accounts import add_user
from skysift.alerts.encode import encode_wire, load_wire_record
from skysift.filters.manage import add_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store
from skysift.store.schema import sources

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
SQL = "SELECT objects.diaObjectId, objects.nDiaSources FROM objects WHERE objects.nDiaSources > 1"


def with_history(path: Path, n: int, tmp: Path) -> tuple[Path, dict]:
    """A real alert given ``n`` previous detections (copies of its own, earlier, new ids)."""
    rec, schema_id = load_wire_record(path)
    src = rec["diaSource"]
    prv = [dict(src, diaSourceId=src["diaSourceId"] + 1 + k,
                midpointMjdTai=src["midpointMjdTai"] - 1 - k, psfFlux=src["psfFlux"] * (1 + k / 10))
           for k in range(n)]
    rec = dict(rec, prvDiaSources=prv)
    out = tmp / f"{src['diaSourceId']}.avro"
    out.write_bytes(encode_wire(rec, schema_id // 100, schema_id % 100))
    return out, rec


def test_full_record_has_every_field_of_every_previous_detection(
        make_settings, kafka_bootstrap, tmp_path, unique_name, topic_reader):
    settings = make_settings(kafka=kafka_bootstrap)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    full = add_filter(engine, settings, user, name="f", sql=SQL, output="full", trigger="alert")
    lite = add_filter(engine, settings, user, name="l", sql=SQL, output="lite", trigger="alert")
    real = next(p for p in sorted(RUBIN.glob("*.avro")) if "7912941781254298" not in p.name)
    night = tmp_path / "night"
    night.mkdir()
    _path, rec = with_history(real, 12, night)
    totals = ingest_files(settings, [night], progress=False, engine=engine)
    assert totals.ingested == 1

    (m,) = topic_reader(full.topic, expect=1)
    got = json.loads(m.value())["alert"]["diaSourcesList"]
    assert len(got) == 13
    assert all(set(s) == set(rec["diaSource"]) for s in got)  # every field, history included
    assert [s["diaSourceId"] for s in got] == sorted(
        [rec["diaSource"]["diaSourceId"]] + [p["diaSourceId"] for p in rec["prvDiaSources"]],
        key=lambda i: -i)  # oldest first: here the larger ids are the older detections
    (m,) = topic_reader(lite.topic, expect=1)
    lite_srcs = json.loads(m.value())["alert"]["diaSourcesList"]
    assert [s["psfFlux"] for s in lite_srcs] == [s["psfFlux"] for s in got]

    # history stored once, even when the same alert is ingested again
    ingest_files(settings, [night], progress=False, engine=engine)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar()
    assert n == 13
