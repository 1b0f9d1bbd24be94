"""Filters: create/edit seeds the topic, rename and delete move/remove it, names never collide,
quotas stop runaway filters, a failing filter does not stop the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka.admin import AdminClient

from skysift.accounts import add_user
from skysift.errors import FilterConflict, FilterError, FilterRejected, FilterSyntaxError
from skysift.filters.manage import add_filter, delete_filter, edit_filter, get_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store
from skysift.store.schema import objects, topic_stats

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
ALL_SQL = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"


@pytest.fixture
def world(make_settings, kafka_bootstrap, store_url, unique_name):
    settings = make_settings(kafka=kafka_bootstrap, database=store_url, seed_records=4)
    engine = open_store(settings.database_url)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("u"))
    return settings, engine, user


def topics(bootstrap):
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def _latest_with_largest_id(tmp_path):
    """A real alert made the newest detection of the object with the largest id, so that
    "most recent first" differs from ordering by id in either direction."""
    from skysift.alerts.encode import encode_wire, load_wire_record

    rec, schema_id = load_wire_record(sorted(RUBIN.glob("1692*.avro"))[0])
    big = 9_000_000_000_000_000_000
    rec = dict(rec, diaSourceId=big,
               diaSource=dict(rec["diaSource"], diaSourceId=big, diaObjectId=big,
                              midpointMjdTai=60970.0),
               diaObject=dict(rec["diaObject"], diaObjectId=big, lastDiaSourceMjdTai=60970.0))
    out = tmp_path / "latest"
    out.mkdir()
    (out / "latest.avro").write_bytes(encode_wire(rec, schema_id // 100, schema_id % 100))
    return out


def test_edit_empties_the_topic_and_seeds_the_most_recent(world, kafka_bootstrap, topic_reader,
                                                          tmp_path):
    settings, engine, user = world
    f = add_filter(engine, settings, user, name="seeded", sql=ALL_SQL, output="plain",
                   trigger="alert")
    ingest_files(settings, [RUBIN, _latest_with_largest_id(tmp_path)], progress=False,
                 engine=engine)
    with engine.connect() as conn:
        n_objects = conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar()
        last_seen = dict(conn.execute(
            sa.select(objects.c.diaObjectId, objects.c.lastDiaSourceMjdTai)).all())
    assert len(topic_reader(f.topic, expect=n_objects)) == n_objects

    f2 = edit_filter(engine, settings, f, sql=ALL_SQL + " AND objects.ra > -1")
    msgs = topic_reader(f2.topic, idle_s=3)
    assert len(msgs) == settings.seed_records  # emptied, then seeded with seed_records
    assert all(dict(m.headers())["reason"] == b"reset" for m in msgs)
    keys = {int(m.key()) for m in msgs}
    assert len(keys) == settings.seed_records
    # most recent first: no object left out was seen later than any object seeded
    seeded = [last_seen[k] for k in keys]
    left_out = [t for oid, t in last_seen.items() if oid not in keys]
    assert min(seeded) >= max(left_out)
    assert all("UTC" in json.loads(m.value()) for m in msgs)


def test_seeded_lite_and_full_records_carry_the_stored_light_curve(world, topic_reader):
    settings, engine, user = world
    ingest_files(settings, [RUBIN], progress=False, engine=engine)
    lite = add_filter(engine, settings, user, name="lite", sql=ALL_SQL, output="lite")
    full = add_filter(engine, settings, user, name="full", sql=ALL_SQL, output="full")
    from skysift.store.lightcurve import fetch_lightcurves

    for flt in (lite, full):
        msgs = topic_reader(flt.topic, expect=settings.seed_records)
        assert len(msgs) == settings.seed_records
        ids = [int(m.key()) for m in msgs]
        with engine.connect() as conn:
            stored = fetch_lightcurves(conn, ids)
        for m in msgs:
            rec = json.loads(m.value())
            lc = stored[rec["diaObjectId"]]
            got = rec["alert"]["diaSourcesList"]
            assert len(got) == len(lc.diaSources) >= 1
            if flt.output == "full":
                assert got == lc.diaSources
                assert rec["alert"]["diaObject"]["diaObjectId"] == rec["diaObjectId"]
            else:
                assert [s["psfFlux"] for s in got] == [s["psfFlux"] for s in lc.diaSources]


def test_rename_moves_the_topic_and_delete_removes_it(world, kafka_bootstrap):
    settings, engine, user = world
    f = add_filter(engine, settings, user, name="before", sql=ALL_SQL, output="lite")
    assert f.topic in topics(kafka_bootstrap)
    g = edit_filter(engine, settings, f, name="after")
    assert g.topic == f"lasair_{user.id}after"
    now = topics(kafka_bootstrap)
    assert g.topic in now and f.topic not in now
    delete_filter(engine, settings, g)
    assert g.topic not in topics(kafka_bootstrap)
    with engine.connect() as conn, pytest.raises(FilterError, match="no such filter"):
        get_filter(conn, "after", user)


def test_names_that_collide_are_refused(world, unique_name):
    settings, engine, user = world
    add_filter(engine, settings, user, name="Supernovae", sql=ALL_SQL)
    with pytest.raises(FilterConflict, match="already have"):
        add_filter(engine, settings, user, name="supernovae", sql=ALL_SQL)
    # Lasair's collision: user 1 "2SN" and user 12 "SN" would share lasair_12SN
    with engine.begin() as conn:
        everyone = [user] + [add_user(conn, unique_name("o"))[0] for _ in range(12)]
    by_id = {u.id: u for u in everyone}
    a = next(u for u in everyone if u.id * 10 + 2 in by_id)  # fresh database: ids 1..13
    b = by_id[a.id * 10 + 2]
    add_filter(engine, settings, a, name="2SN", sql=ALL_SQL)
    with pytest.raises(FilterConflict, match="another filter's"):
        add_filter(engine, settings, b, name="SN", sql=ALL_SQL)


def test_bad_sql_is_refused_before_anything_is_saved(world):
    settings, engine, user = world
    with pytest.raises(FilterRejected):
        add_filter(engine, settings, user, name="evil",
                   sql="SELECT objects.diaObjectId FROM objects, users WHERE 1=1")
    with pytest.raises((FilterSyntaxError, FilterRejected)):
        add_filter(engine, settings, user, name="broken", sql="SELEC diaObjectId FRM objects")
    with engine.connect() as conn, pytest.raises(FilterError, match="no such filter"):
        get_filter(conn, "evil", user)


def test_the_daily_quota_stops_a_runaway_filter(world, topic_reader):
    settings, engine, user = world
    f = add_filter(engine, settings, user, name="runaway", sql=ALL_SQL, output="full",
                   trigger="alert", byte_quota=2000)
    ingest_files(settings, [RUBIN], progress=False, engine=engine)
    msgs = topic_reader(f.topic, idle_s=3)
    with engine.connect() as conn:
        st = conn.execute(sa.select(topic_stats).where(topic_stats.c.topic == f.topic)).one()
        n_objects = conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar()
    produced_bytes = sum(len(m.value()) for m in msgs)
    assert produced_bytes <= 2000
    assert st.records_produced == len(msgs)
    assert st.records_rejected == n_objects - len(msgs) > 0
    assert st.bytes_produced == produced_bytes
