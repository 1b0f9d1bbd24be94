"""store_alerts: sources stored once, objects rows right, independent of order and batching."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
import sqlalchemy as sa
from rubin_alerts import grown_light_curves, real_alerts

from skysift.features.compute import compute_features
from skysift.features.update import store_alerts
from skysift.store.lightcurve import fetch_lightcurves, fetch_objects, latest_objects
from skysift.store.schema import forced_sources, objects, sources


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _ingest(engine, alerts):
    with engine.begin() as conn:
        return store_alerts(conn, alerts)


def _rows(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(objects)).mappings().all()
    return {r["diaObjectId"]: {k: v for k, v in r.items() if k != "updated"} for r in rows}


def _as_stored(record: dict) -> dict:
    """A record as the store keeps it: JSON, NaN as null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v
            for k, v in json.loads(json.dumps(record)).items()}


def _distinct_sources(alerts) -> set[int]:
    return {s["diaSourceId"] for a in alerts for s in [a.diaSource, *a.prvDiaSources]}


def test_real_alerts_make_one_row_per_object(engine):
    alerts = real_alerts()
    if not alerts:
        pytest.skip("no real Rubin alert files")
    result = _ingest(engine, alerts)
    with_object = sorted(a.diaObjectId for a in alerts if a.diaObjectId)
    assert result.object_ids == with_object
    assert result.n_sources_new == len(_distinct_sources(alerts))
    rows = _rows(engine)
    assert sorted(rows) == with_object
    for a in alerts:
        if not a.diaObjectId:
            continue
        row = rows[a.diaObjectId]
        assert row["ra"] == a.diaObject["ra"] and row["decl"] == a.diaObject["dec"]
        assert row["nDiaSources"] == 1
        assert row["latest_psfFlux"] == pytest.approx(a.diaSource["psfFlux"], rel=1e-12)
        assert row["latestR"] == pytest.approx(a.diaSource["reliability"], rel=1e-12)
        assert row["validityStartMjdTai"] == a.diaObject["validityStartMjdTai"]
        assert json.loads(row["diaObject"]) == _as_stored(a.diaObject)
        assert result.rows[a.diaObjectId]["healpix"] == row["healpix"]


def test_solar_system_alert_stores_sources_but_no_object(engine):
    alerts = real_alerts()
    if not alerts:
        pytest.skip("no real Rubin alert files")
    ss = copy.deepcopy(alerts[0])
    ss.diaObjectId, ss.diaObject = None, None
    ss.diaSource["diaObjectId"], ss.diaSource["ssObjectId"] = None, 12345
    result = _ingest(engine, [ss])
    assert result.object_ids == [] and result.rows == {}
    assert result.n_sources_new == 1
    assert _count(engine, objects) == 0
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sources.c.diaObjectId, sources.c.payload)).one()
    assert stored.diaObjectId is None
    assert json.loads(stored.payload)["ssObjectId"] == 12345


def test_same_alerts_twice_store_sources_once(engine):
    alerts = grown_light_curves(3, 6)
    first = _ingest(engine, alerts)
    n_src, n_forced = _count(engine, sources), _count(engine, forced_sources)
    before = _rows(engine)
    second = _ingest(engine, alerts)
    assert first.n_sources_new == n_src == len(_distinct_sources(alerts))
    assert first.n_forced_new == n_forced
    assert second.n_sources_new == 0 and second.n_forced_new == 0
    assert (_count(engine, sources), _count(engine, forced_sources)) == (n_src, n_forced)
    assert _rows(engine) == before


def test_shared_history_in_one_batch_is_stored_once(engine):
    alerts = grown_light_curves(2, 5, history=30)  # each alert repeats all earlier sources
    repeated = sum(1 + len(a.prvDiaSources) for a in alerts)
    result = _ingest(engine, alerts)
    assert repeated > len(_distinct_sources(alerts))
    assert result.n_sources_new == _count(engine, sources) == len(_distinct_sources(alerts))


def test_shuffled_batch_gives_identical_rows(store_url, tmp_path):
    from skysift.store.database import open_store

    alerts = grown_light_curves(6, 8, seed=3)
    shuffled = list(alerts)
    random.Random(7).shuffle(shuffled)
    assert shuffled != alerts
    a = open_store(store_url)
    b = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        _ingest(a, alerts)
        _ingest(b, shuffled)
        assert _rows(a) == _rows(b)
    finally:
        a.dispose()
        b.dispose()


def test_two_batches_equal_one_batch(store_url, tmp_path):
    from skysift.store.database import open_store

    alerts = grown_light_curves(5, 8, seed=4)
    late_first = list(reversed(alerts))  # newest alerts (and diaObjects) arrive first
    one = open_store(store_url)
    two = open_store(f"sqlite:///{tmp_path / 'two.db'}")
    try:
        _ingest(one, alerts)
        _ingest(two, late_first[: len(alerts) // 2])
        _ingest(two, late_first[len(alerts) // 2:])
        assert _rows(one) == _rows(two)
    finally:
        one.dispose()
        two.dispose()


def test_second_alert_updates_the_row(engine):
    alerts = grown_light_curves(1, 2, seed=5)
    oid = alerts[0].diaObjectId
    _ingest(engine, alerts[:1])
    before = _rows(engine)[oid]
    _ingest(engine, alerts[1:])
    after = _rows(engine)[oid]
    assert before["nDiaSources"] == 1 and after["nDiaSources"] == 2
    assert after["lastDiaSourceMjdTai"] == alerts[1].diaSource["midpointMjdTai"]
    assert after["validityStartMjdTai"] == alerts[1].diaObject["validityStartMjdTai"]
    assert after["diaObjectSourceId"] == alerts[1].diaSourceId


def test_older_dia_object_never_replaces_newer(engine):
    alerts = grown_light_curves(1, 3, seed=6)
    _ingest(engine, [alerts[2]])
    _ingest(engine, [alerts[0]])
    row = _rows(engine)[alerts[0].diaObjectId]
    assert json.loads(row["diaObject"])["validityStartMjdTai"] == alerts[2].diaObject[
        "validityStartMjdTai"]
    assert row["diaObjectSourceId"] == alerts[2].diaSourceId
    assert row["nDiaSources"] == len(_distinct_sources([alerts[0], alerts[2]]))


def test_64_bit_ids_are_exact(engine):
    alerts = grown_light_curves(2, 3, seed=8, first_object_id=2**63 - 10)
    _ingest(engine, alerts)
    with engine.connect() as conn:
        src_ids = set(conn.execute(sa.select(sources.c.diaSourceId)).scalars())
        forced_ids = set(conn.execute(sa.select(forced_sources.c.diaForcedSourceId)).scalars())
        obj_ids = set(conn.execute(sa.select(objects.c.diaObjectId)).scalars())
        curves = fetch_lightcurves(conn, obj_ids)
    read_back = [s["diaSourceId"] for lc in curves.values() for s in lc.diaSources]
    assert src_ids == set(read_back) == _distinct_sources(alerts)
    assert len(read_back) == len(src_ids) and {type(i) for i in read_back} == {int}
    assert forced_ids == {f["diaForcedSourceId"] for a in alerts for f in a.prvDiaForcedSources}
    assert obj_ids == {2**63 - 10, 2**63 - 9}
    assert all(isinstance(i, int) for i in src_ids | obj_ids)


def test_stored_rows_match_compute_features_on_the_light_curve(engine):
    alerts = grown_light_curves(3, 12, seed=9, history=5)  # history window < light curve
    result = _ingest(engine, alerts)
    with engine.connect() as conn:
        curves = fetch_lightcurves(conn, result.object_ids)
        stored = fetch_objects(conn, result.object_ids)
    for oid in result.object_ids:
        lc = curves[oid]
        newest = max((a for a in alerts if a.diaObjectId == oid),
                     key=lambda a: a.diaObject["validityStartMjdTai"])
        expected = compute_features(lc.diaSources, lc.diaForcedSources, newest.diaObject)
        assert len(lc.diaSources) == 12
        for name, value in expected.items():
            assert stored[oid][name] == value, name  # same code, doubles round-trip exactly
            assert result.rows[oid][name] == value, name


def test_fetch_lightcurves_returns_payloads_sorted(engine):
    alerts = grown_light_curves(2, 6, seed=10)
    shuffled = list(alerts)
    random.Random(1).shuffle(shuffled)
    _ingest(engine, shuffled)
    oid = alerts[0].diaObjectId
    with engine.connect() as conn:
        curves = fetch_lightcurves(conn, [oid, 42])
    assert set(curves) == {oid}
    sent = {s["diaSourceId"]: s for a in alerts for s in [a.diaSource, *a.prvDiaSources]
            if a.diaObjectId == oid}
    got = curves[oid].diaSources
    assert [s["diaSourceId"] for s in got] == sorted(sent, key=lambda i: (
        sent[i]["midpointMjdTai"], i))
    assert got == [_as_stored(sent[s["diaSourceId"]]) for s in got]
    times = [f["midpointMjdTai"] for f in curves[oid].diaForcedSources]
    assert times == sorted(times) and len(times) > 0


def test_latest_objects_orders_by_last_source(engine):
    alerts = grown_light_curves(4, 3, seed=11)
    _ingest(engine, alerts)
    with engine.connect() as conn:
        latest = latest_objects(conn, 3)
        every = fetch_objects(conn, [a.diaObjectId for a in alerts])
    expected = sorted(every.values(), key=lambda r: -r["lastDiaSourceMjdTai"])[:3]
    assert [r["diaObjectId"] for r in latest] == [r["diaObjectId"] for r in expected]
    assert latest[0]["updated"].tzinfo is not None


def test_history_ids_written_as_digit_strings_are_stored_as_the_ids(engine):
    """JSON writers that keep 64-bit ids exact write them as text: every history item of such
    an alert is stored (a new item was silently skipped when its id was compared as text)."""
    alerts = grown_light_curves(2, 2, seed=3, history=5, n_forced=3)
    want_src = {int(s["diaSourceId"]) for a in alerts for s in (a.diaSource, *a.prvDiaSources)}
    want_forced = {int(f["diaForcedSourceId"]) for a in alerts for f in a.prvDiaForcedSources}
    assert len(want_forced) >= 3
    for a in alerts:
        for s in a.prvDiaSources:
            s["diaSourceId"] = str(s["diaSourceId"])
        for f in a.prvDiaForcedSources:
            f["diaForcedSourceId"] = f" {f['diaForcedSourceId']}"
    with engine.begin() as conn:
        result = store_alerts(conn, alerts, bbb=False)
    assert result.refused == []
    with engine.connect() as conn:
        got_src = {r[0] for r in conn.execute(sa.select(sources.c.diaSourceId))}
        got_forced = {r[0] for r in conn.execute(sa.select(forced_sources.c.diaForcedSourceId))}
    assert got_src == want_src
    assert got_forced == want_forced


@pytest.mark.parametrize("to_clean", [False, True], ids=["clean", "flux-to-clean"])
@pytest.mark.parametrize("kind", ["prvDiaSources", "prvDiaForcedSources"])
def test_a_history_id_carried_twice_is_stored_with_the_values_that_were_judged(
        engine, kind, to_clean):
    """Two alerts of one batch carry the same new history id, the first with possible values
    (clean, or with an infinite psfFlux to store as NULL), the second with an impossible one
    (ra 400 for a diaSource, band "X" for a forced source). The first alert is refused for
    another item, the second kept: the row stored for that id is the item that was judged, never
    the unjudged twin (before, the twin reached the store), and the NULL's warning names the
    alert the value came from."""
    from skysift.alerts.model import AlertOrigin

    first, second = grown_light_curves(2, 2, seed=5, history=3, n_forced=2)[1::2]
    first.origin, second.origin = AlertOrigin(path="first.avro"), AlertOrigin(path="second.avro")
    items = getattr(first, kind)
    shared = items[0]
    if to_clean:
        shared["psfFlux"] = math.inf
    impossible = {"ra": 400.0} if kind == "prvDiaSources" else {"band": "X"}
    getattr(second, kind).insert(0, dict(shared, **impossible))
    first.prvDiaForcedSources[-1]["midpointMjdTai"] = math.nan  # refuses the first alert
    with engine.begin() as conn:
        result = store_alerts(conn, [first, second], bbb=False)
    assert [a.diaSourceId for a, _ in result.refused] == [first.diaSourceId]
    assert "midpointMjdTai is nan" in result.refused[0][1]
    table, key = ((sources, "diaSourceId") if kind == "prvDiaSources"
                  else (forced_sources, "diaForcedSourceId"))
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(
            table.c[key] == shared[key])).mappings().one()
    name = next(iter(impossible))
    assert row[name] == shared[name]
    assert row["psfFlux"] == (None if to_clean else shared["psfFlux"])
    assert result.warnings == (["first.avro: psfFlux inf is infinite, stored as NULL"]
                               if to_clean else [])
