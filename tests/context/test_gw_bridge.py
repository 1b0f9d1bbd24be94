"""The bridge: LVK sky maps registered in the store, hits against stored and arriving objects,
hits replaced by a newer map and removed by a retraction, filters triggered by a map, on SQLite
and PostgreSQL with the real Kafka broker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sqlalchemy as sa
from ctx_world import (
    independent_contour,
    notice_bytes,
    placed,
    real_notice_at,
    rubin_alerts,
    skymap_of,
)

from skysift.bridge import register_notices
from skysift.context.gw import ScoredMap, hits_of_event
from skysift.filters.manage import add_filter
from skysift.skymaps.notice import decode_notice
from skysift.skymaps.mock import gaussian_skymap
from skysift.store.schema import gw_events, gw_hits

KILONOVA = ("SELECT objects.diaObjectId, gw_hits.superevent_id, gw_hits.contour, gw_hits.t_gw, "
            "gw_events.HasNS FROM objects, gw_hits, gw_events WHERE gw_hits.contour < 0.9 "
            "AND gw_events.HasNS > 0.5")


def _same_night():
    """The real alerts detected on the first night (one of the eight is 37 days later)."""
    alerts = rubin_alerts()
    t0 = min(a.diaSource["midpointMjdTai"] for a in alerts)
    night = [a for a in alerts if a.diaSource["midpointMjdTai"] < t0 + 0.5]
    assert len(night) >= 5
    return night, t0


def _hits(engine, sid):
    with engine.connect() as conn:
        return {h["diaObjectId"]: h for h in hits_of_event(conn, sid)}


def _register(world, *notices):
    return register_notices(world.engine, world.settings, [decode_notice(n) for n in notices])


def _records(topic_reader, topic, expect):
    msgs = topic_reader(topic, expect=expect)
    return [(dict(m.headers())["reason"].decode(), json.loads(m.value())) for m in msgs]


def test_contours_of_the_real_bayestar_map_equal_an_independent_astropy_healpix_computation():
    fits_bytes = (LVK_MAP := __import__("ctx_world").LVK / "skymaps" /
                  "MS181101ab_bayestar.multiorder.fits").read_bytes()
    sm = ScoredMap.from_fits(fits_bytes)
    rng = np.random.default_rng(5)
    ra = np.concatenate([[194.30419921874997, 10.0], 194.3 + rng.normal(0, 3, 40)])
    dec = np.concatenate([[-17.856895095545468, 80.0], -17.86 + rng.normal(0, 3, 40)])
    contour, dens = sm.score(ra, dec)
    for i in range(ra.size):
        want_c, want_d = independent_contour(fits_bytes, ra[i], dec[i])
        assert contour[i] == pytest.approx(want_c, abs=1e-12), (ra[i], dec[i])
        assert dens[i] == pytest.approx(want_d, rel=1e-12)
    assert contour[0] < 0.01 and contour[1] > 0.999999  # the peak, and far away
    assert LVK_MAP.name.endswith(".fits")


def test_mock_map_areas_equal_the_fisher_distribution_formula():
    from skysift.skymaps.credible import credible_areas
    from skysift.skymaps.multiorder import read_multiorder

    m = read_multiorder(gaussian_skymap(10.4, -45.2, 1.5))
    areas = credible_areas(m, (0.5, 0.9))
    # a Fisher distribution of width sigma holds p within area 2 pi sigma^2 ln(1/(1-p))
    assert areas[0.9] == pytest.approx(2 * np.pi * 1.5**2 * np.log(10), rel=0.01)
    assert areas[0.5] == pytest.approx(2 * np.pi * 1.5**2 * np.log(2), rel=0.01)


def test_a_map_scores_stored_objects_then_arrivals_is_replaced_and_retracted(ctx_world,
                                                                             topic_reader):
    world = ctx_world
    alerts, t0 = _same_night()
    bob = world.users["bob"]
    flt = add_filter(world.engine, world.settings, bob, name="kilonova candidates",
                     sql=KILONOVA, trigger="alert")
    # four alerts placed around (150, 2): at 0.2, 0.7, 1.5 and 6 degrees from the centre
    offsets = [0.2, 0.7, 1.5, 6.0]
    near = [placed(a, 150.0 + d, 2.0) for a, d in zip(alerts, offsets, strict=False)]
    world.ingest(near)
    assert topic_reader(flt.topic, idle_s=1) == []  # no event yet: nothing matches

    # the event happened half a day before the first detection; its map (sigma 1.5 deg) arrives
    sky1 = gaussian_skymap(150.0, 2.0, 1.5)
    report = _register(world, notice_bytes("MS261201a", t0 - 0.5, sky1))
    change = report.changes[0]
    assert (change.action, change.version) == ("new map", 1)
    hits = _hits(world.engine, "MS261201a")
    # contours from an independent computation; hit where contour <= gw_max_contour (0.95)
    expected = {}
    for a, d in zip(near, offsets, strict=True):
        contour, dens = independent_contour(sky1, 150.0 + d, 2.0)
        if contour <= world.settings.gw_max_contour:
            expected[a.diaObjectId] = (contour, dens)
    assert set(hits) == set(expected) == {a.diaObjectId for a in near[:3]}
    for oid, (contour, dens) in expected.items():
        assert hits[oid]["contour"] == pytest.approx(contour, abs=1e-12)
        assert hits[oid]["probdens2"] == pytest.approx(dens, rel=1e-12)
        first = next(a for a in near if a.diaObjectId == oid).diaSource["midpointMjdTai"]
        assert hits[oid]["t_gw"] == pytest.approx(first - (t0 - 0.5), abs=1e-6)
    # the filter heard about the candidates inside its 90% region the moment the map arrived
    inside90 = sorted(o for o, (c, _) in expected.items() if c < 0.9)
    got = _records(topic_reader, flt.topic, expect=len(inside90))
    assert sorted(v["diaObjectId"] for r, v in got) == inside90
    assert {r for r, _ in got} == {"skymap"}
    assert all(v["superevent_id"] == "MS261201a" and v["HasNS"] == 0.99 for _, v in got)

    # an alert arriving later, near the centre, is scored on arrival (reason=alert)
    late = placed(alerts[4], 150.1, 2.1)
    world.ingest([late])
    got = _records(topic_reader, flt.topic, expect=len(inside90) + 1)
    assert got[-1][0] == "alert" and got[-1][1]["diaObjectId"] == late.diaObjectId
    want, _ = independent_contour(sky1, 150.1, 2.1)
    assert got[-1][1]["contour"] == pytest.approx(want, abs=1e-12)

    # an UPDATE moves the map 6 degrees east: old hits replaced, not kept beside the new ones
    sky2 = gaussian_skymap(156.0, 2.0, 1.0)
    report = _register(world, notice_bytes("MS261201a", t0 - 0.5, sky2, alert_type="UPDATE",
                                           created_after_s=3600))
    assert (report.changes[0].action, report.changes[0].version) == ("new map", 2)
    hits = _hits(world.engine, "MS261201a")
    assert set(hits) == {near[3].diaObjectId}
    assert hits[near[3].diaObjectId]["contour"] == pytest.approx(
        independent_contour(sky2, 156.0, 2.0)[0], abs=1e-12)
    assert report.changes[0].changed == {a.diaObjectId for a in near[:3]} | {
        late.diaObjectId, near[3].diaObjectId}
    got = _records(topic_reader, flt.topic, expect=len(inside90) + 2)
    assert got[-1] == ("skymap", {**got[-1][1], "diaObjectId": near[3].diaObjectId})
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(gw_events).where(
            gw_events.c.superevent_id == "MS261201a")).one()._mapping
    assert (row["alert_type"], row["map_version"], row["retracted"]) == ("UPDATE", 2, False)

    # an older notice changes nothing; a retraction removes every hit
    stale = _register(world, notice_bytes("MS261201a", t0 - 0.5, sky1, created_after_s=30))
    assert stale.changes[0].action == "older" and set(_hits(world.engine, "MS261201a")) == {
        near[3].diaObjectId}
    gone = _register(world, notice_bytes("MS261201a", t0 - 0.5, None, alert_type="RETRACTION",
                                         created_after_s=7200))
    assert gone.changes[0].action == "retracted"
    assert _hits(world.engine, "MS261201a") == {}
    assert len(topic_reader(flt.topic, idle_s=1)) == len(inside90) + 2  # nothing to say


def test_a_retraction_is_final_even_when_it_is_older_than_the_registered_notice(ctx_world):
    """LVK's stream carries retractions created before a notice already received (the real mock
    MS230425k: its RETRACTION at 11:02, its INITIAL at 12:19). On disk the event is retracted
    whatever the order (RETRACTED); the store once ignored such a retraction as "older", leaving
    the event live for filters. Now a retraction always retracts, and nothing after it
    un-retracts the event or brings its hits back."""
    world = ctx_world
    alerts, t0 = _same_night()
    world.ingest([placed(a, 150.0 + 0.1 * k, 2.0) for k, a in enumerate(alerts[:3])])
    sky = gaussian_skymap(150.0, 2.0, 1.5)
    initial = _register(world, notice_bytes("MS261201r", t0 - 0.5, sky, alert_type="INITIAL",
                                            created_after_s=3600))
    assert initial.changes[0].action == "new map" and len(_hits(world.engine, "MS261201r")) == 3

    def event():
        with world.engine.connect() as conn:
            return conn.execute(sa.select(gw_events).where(
                gw_events.c.superevent_id == "MS261201r")).one()._mapping

    registered_at = event()["alert_time"]
    gone = _register(world, notice_bytes("MS261201r", t0 - 0.5, None, alert_type="RETRACTION",
                                         created_after_s=600))  # created before the INITIAL
    assert gone.changes[0].action == "retracted"
    assert _hits(world.engine, "MS261201r") == {}
    assert event()["retracted"] is True and event()["alert_time"] == registered_at
    later = _register(world, notice_bytes("MS261201r", t0 - 0.5, sky, alert_type="UPDATE",
                                          created_after_s=7200))
    assert later.changes[0].action == "older"
    assert _hits(world.engine, "MS261201r") == {} and event()["retracted"] is True


def test_only_objects_detected_in_the_live_window_are_scored(ctx_world):
    world = ctx_world
    alerts = rubin_alerts()
    t0 = min(a.diaSource["midpointMjdTai"] for a in alerts)
    near = [placed(a, 210.0, -30.0) for a in alerts]  # seven on the first night, one 37 days on
    world.ingest(near)
    sky = gaussian_skymap(210.0, -30.0, 1.0)
    days = world.settings.gw_active_days
    _register(world,
              notice_bytes("MS261201b", t0 - days - 0.5, sky),  # over before the detections
              notice_bytes("MS261201c", t0 + 1.5, sky),  # detections 1.5 days before: too early
              notice_bytes("MS261201d", t0 + 0.5, sky),  # half a day before: kept
              notice_bytes("MS261201e", t0 - days + 0.5, sky))  # still live
    with world.engine.connect() as conn:
        counts = dict(conn.execute(sa.select(gw_hits.c.superevent_id, sa.func.count())
                                   .group_by(gw_hits.c.superevent_id)).all())
    first_night = sum(1 for a in near if a.diaSource["midpointMjdTai"] < t0 + 0.5)
    assert 0 < first_night < len(near)
    assert counts == {"MS261201d": first_night, "MS261201e": first_night}


def test_the_real_s230518h_map_moved_to_the_alerts_time_scores_like_astropy_healpix(ctx_world):
    world = ctx_world
    alerts, t0 = _same_night()
    notice = real_notice_at("S230518h-initial.json", t0 - 0.2)
    fits_bytes = skymap_of(notice)
    sm = ScoredMap.from_fits(fits_bytes)
    # place alerts at the densest pixel, at a middling level, and where the map is empty
    peak = int(np.argmax(sm.map.probdensity))
    from astropy_healpix import healpix_to_lonlat, level_to_nside

    def centre(row):
        lon, lat = healpix_to_lonlat(sm.map.ipix[row], level_to_nside(int(sm.map.level[row])),
                                     order="nested")
        return float(lon.deg), float(lat.deg)

    middle = int(np.argmin(np.abs(sm.levels - 0.6)))
    empty = int(np.argmax(sm.levels))
    spots = [centre(peak), centre(middle), centre(empty)]
    placed_alerts = [placed(a, ra, dec) for a, (ra, dec) in zip(alerts, spots, strict=False)]
    world.ingest(placed_alerts)
    _register(world, notice)
    hits = _hits(world.engine, "S230518h")
    assert set(hits) == {placed_alerts[0].diaObjectId, placed_alerts[1].diaObjectId}
    for a, (ra, dec) in zip(placed_alerts[:2], spots[:2], strict=True):
        contour, dens = independent_contour(fits_bytes, ra, dec)
        assert hits[a.diaObjectId]["contour"] == pytest.approx(contour, abs=1e-12)
        assert hits[a.diaObjectId]["probdens2"] == pytest.approx(dens, rel=1e-12)
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(gw_events).where(
            gw_events.c.superevent_id == "S230518h")).one()._mapping
    assert row["area90"] == pytest.approx(666, rel=0.01)  # the data README: about 666 deg2
    assert row["p_NSBH"] == pytest.approx(0.8642645059209272)
