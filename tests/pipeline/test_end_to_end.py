"""Real Rubin alerts through the whole pipeline into real Kafka topics, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from skysift.accounts import add_user
from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.filters.manage import add_filter, get_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"

PLAIN_SQL = ("SELECT objects.diaObjectId, objects.ra, objects.decl, "
             "flux2mag(objects.latest_psfFlux) AS mag FROM objects "
             "WHERE objects.latest_psfFlux > 3000")
LITE_SQL = "SELECT objects.diaObjectId, objects.latestR FROM objects WHERE objects.latestR > 0.3"
FULL_SQL = (
    "SELECT objects.diaObjectId, objects.nDiaSources FROM objects WHERE objects.nDiaSources >= 1"
)


def decoded():
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    assert alerts and all(not isinstance(a, Exception) for a in alerts)
    return [a for a in alerts if a.diaObjectId is not None]


@pytest.fixture
def world(make_settings, kafka_bootstrap, store_url, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, database=store_url)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    return settings, engine, user


def test_alerts_flow_into_plain_lite_full_topics(world, topic_reader):
    settings, engine, user = world
    fp = add_filter(engine, settings, user, name="bright", sql=PLAIN_SQL, output="plain",
                    trigger="alert")
    fl = add_filter(engine, settings, user, name="lite one", sql=LITE_SQL, output="lite",
                    trigger="alert")
    ff = add_filter(engine, settings, user, name="full-one", sql=FULL_SQL, output="full",
                    trigger="alert")
    idle = add_filter(engine, settings, user, name="ondemand", sql=FULL_SQL, output="plain",
                      trigger="none")
    assert fl.topic == f"lasair_{user.id}liteone"

    totals = ingest_files(settings, [RUBIN], progress=False, engine=engine)
    alerts = decoded()
    assert totals.ingested == len(list(iter_alert_files([RUBIN])))
    assert totals.rejected == 0

    # what each filter should have matched, computed from the alerts themselves
    by_obj = {a.diaObjectId: a for a in alerts}
    want_plain = {o for o, a in by_obj.items() if a.diaSource["psfFlux"] > 3000}
    want_lite = {o for o, a in by_obj.items() if (a.diaSource.get("reliability") or 0) > 0.3}
    assert want_plain and want_lite  # the data exercise both

    plain = topic_reader(fp.topic, expect=len(want_plain))
    assert {int(m.key()) for m in plain} == want_plain
    for m in plain:
        rec = json.loads(m.value())
        assert list(rec) == ["diaObjectId", "ra", "decl", "mag", "UTC"]
        assert rec["diaObjectId"] == int(m.key())  # exact 64-bit int
        a = by_obj[rec["diaObjectId"]]
        assert rec["mag"] == pytest.approx(
            -2.5 * __import__("math").log10(a.diaSource["psfFlux"]) + 31.4
        )
        assert dict(m.headers())["reason"] == b"alert"
        assert int(dict(m.headers())["diaSourceId"]) == a.diaSourceId

    lite = topic_reader(fl.topic, expect=len(want_lite))
    assert {int(m.key()) for m in lite} == want_lite
    for m in lite:
        rec = json.loads(m.value())
        a = by_obj[rec["diaObjectId"]]
        srcs = rec["alert"]["diaSourcesList"]
        assert len(srcs) == len(a.prvDiaSources) + 1
        assert srcs[-1] == {k: a.diaSource[k] for k in
                            ("psfFlux", "psfFluxErr", "midpointMjdTai", "band", "reliability")}

    full = topic_reader(ff.topic, expect=len(by_obj))
    assert {int(m.key()) for m in full} == set(by_obj)
    for m in full:
        rec = json.loads(m.value())
        a = by_obj[rec["diaObjectId"]]
        assert rec["alert"]["diaObject"]["diaObjectId"] == a.diaObjectId
        last = rec["alert"]["diaSourcesList"][-1]
        assert last["diaSourceId"] == a.diaSourceId
        assert set(last) == set(a.diaSource)  # every field, no cutouts
        assert not any(k.startswith("cutout") for k in rec["alert"])

    # an inactive filter produced nothing
    assert topic_reader(idle.topic, idle_s=2.0, max_wait_s=10) == []
    with engine.connect() as conn:
        assert get_filter(conn, "ondemand", user).last_error is None


def test_a_corrupt_file_is_kept_and_the_rest_goes_on(world, tmp_path):
    settings, engine, _user = world
    batch = tmp_path / "night"
    batch.mkdir()
    good = sorted(RUBIN.rglob("*.avro"))[:3]
    for f in good:
        shutil.copy(f, batch / f.name)
    bad = batch / "corrupt.avro"
    bad.write_bytes(good[0].read_bytes()[:200])  # truncated
    totals = ingest_files(settings, [batch], progress=False, engine=engine)
    assert (totals.ingested, totals.rejected) == (3, 1)
    assert "rejected 1" in totals.summary() and str(settings.dead_letter_dir) in totals.summary()
    kept = [p for p in settings.dead_letter_dir.rglob("*") if p.is_file()]
    assert any(p.read_bytes() == bad.read_bytes() for p in kept)
    reasons = [json.loads(p.read_text()) for p in kept if p.name.endswith(".reason.json")]
    assert any("corrupt.avro" in json.dumps(r) for r in reasons)


def test_a_filter_added_between_batches_reads_its_own_columns(world, topic_reader, tmp_path):
    """The batch table holds only the columns the active filters read: a filter added after the
    first batch, reading columns no earlier filter read (and in its ORDER BY only), gets exactly
    the objects it asks for in the next batch; a filter deleted stops widening the table."""
    from skysift.filters.manage import delete_filter

    settings, engine, user = world
    files = sorted(iter_alert_files([RUBIN]))
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    half = len(files) // 2
    for f in files[:half]:
        shutil.copy(f, first / f.name)
    for f in files[half:]:
        shutil.copy(f, second / f.name)
    early = add_filter(engine, settings, user, name="early", trigger="alert", output="plain",
                       sql="SELECT objects.diaObjectId FROM objects WHERE objects.ra > 0")
    ingest_files(settings, [first], progress=False, engine=engine)
    late = add_filter(engine, settings, user, name="late", trigger="alert", output="plain",
                      sql="SELECT objects.diaObjectId, objects.decl AS d FROM objects "
                          "WHERE objects.nDiaSources >= 1 AND objects.latestR > 0.2 "
                          "ORDER BY objects.glat DESC")
    delete_filter(engine, settings, early)
    seeded = len(topic_reader(late.topic, idle_s=2.0, max_wait_s=20))
    ingest_files(settings, [second], progress=False, engine=engine)

    import sqlalchemy as sa

    from skysift.store.schema import objects

    batch = {a.diaObjectId for p in files[half:] for a in read_alerts(p)
             if not isinstance(a, Exception) and a.diaObjectId is not None}
    with engine.connect() as conn:  # the store's own answer for the second batch's objects
        want = {r[0] for r in conn.execute(sa.select(objects.c.diaObjectId).where(
            objects.c.diaObjectId.in_(batch), objects.c.nDiaSources >= 1,
            objects.c.latestR > 0.2))}
    assert want and want != batch  # the condition selects
    records = topic_reader(late.topic, expect=seeded + len(want))[seeded:]
    assert {int(m.key()) for m in records} == want
    for m in records:
        rec = json.loads(m.value())
        assert list(rec) == ["diaObjectId", "d", "UTC"] and isinstance(rec["d"], float)
    with engine.connect() as conn:
        assert get_filter(conn, "late", user).last_error is None
