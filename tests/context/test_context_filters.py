"""Watchlists and watchmaps inside filters: hits per batch, privacy across users, Lasair's
``watchlist:N`` / ``area:N&M`` spelling, and the same rows on the batch engine and the store
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord
from ctx_world import placed, rubin_alerts

from skysift.filters.catalogue import user_catalogue
from skysift.context.owned import Viewer
from skysift.context.upload import read_cones
from skysift.context.watchlists import add_watchlist, crossmatch_stored, get_watchlist
from skysift.context.watchmaps import add_watchmap, moc_from_polygon
from skysift.errors import ContextNotFound
from skysift.filters.compile import compile_filter
from skysift.filters.engine import run_query
from skysift.filters.manage import add_filter
from skysift.filters.validate import validate_filter
from skysift.web.api.query import build_sql

#: where the test alerts are placed (ra, dec), and the cones around them
SPOTS = [(30.0, 10.0), (30.003, 10.0), (45.0, -20.0), (300.0, 60.0)]


def _cone_text(rows):
    return "\n".join(f"{ra!r}, {dec!r}, {name}, {r}" for ra, dec, name, r in rows).encode()


def _setup(world):
    alerts = [placed(a, ra, dec) for a, (ra, dec) in zip(rubin_alerts(), SPOTS, strict=False)]
    alice, bob = world.users["alice"], world.users["bob"]
    with world.engine.begin() as conn:
        # alice's private list: a cone 2 arcsec from the first object, and a wide one holding
        # the first two; bob's public list: a cone on the third
        private = add_watchlist(conn, alice.id, "alice agn", read_cones(_cone_text([
            (30.0 + 2.0 / 3600, 10.0, "close", 3.0), (30.0005, 10.0, "wide", 60.0)]), "a.txt"))
        public = add_watchlist(conn, bob.id, "bob stars", read_cones(_cone_text([
            (45.0, -20.0 + 1.0 / 3600, "star", 2.0)]), "b.txt"), public=True)
        # alice's private area: a box around (30, 10); bob's public one around (45, -20)
        box_a = add_watchmap(conn, alice.id, "alice box",
                             moc_from_polygon([29, 31, 31, 29], [9, 9, 11, 11]))
        box_b = add_watchmap(conn, bob.id, "bob box",
                             moc_from_polygon([44, 46, 46, 44], [-21, -21, -19, -19]), public=True)
        both = add_watchmap(conn, bob.id, "bob big box",
                            moc_from_polygon([20, 50, 50, 20], [-30, -30, 20, 20]), public=True)
    return alerts, private, public, box_a, box_b, both


def _records(topic_reader, topic, expect):
    return [json.loads(m.value()) for m in topic_reader(topic, expect=expect)]


def test_watchlist_hits_are_exact_private_to_their_owner_and_equal_on_batch_and_store(
        ctx_world, topic_reader):
    world = ctx_world
    alerts, private, public, *_ = _setup(world)
    alice, bob = world.users["alice"], world.users["bob"]
    sql = ("SELECT objects.diaObjectId, watchlist_hits.wl_id, watchlist_hits.name, "
           "watchlist_hits.arcsec FROM objects, watchlist_hits ORDER BY watchlist_hits.name")
    mine = add_filter(world.engine, world.settings, alice, name="near my agn", sql=sql,
                      trigger="alert")
    theirs = add_filter(world.engine, world.settings, bob, name="near anything", sql=sql,
                        trigger="alert")
    world.ingest(alerts)

    o1, o2, o3 = (a.diaObjectId for a in alerts[:3])
    seen_by_alice = _records(topic_reader, mine.topic, expect=4)
    got = sorted((r["diaObjectId"], r["wl_id"], r["name"]) for r in seen_by_alice)
    assert got == sorted([(o1, private.id, "close"), (o1, private.id, "wide"),
                          (o2, private.id, "wide"), (o3, public.id, "star")])
    seen_by_bob = _records(topic_reader, theirs.topic, expect=1)
    assert [(r["diaObjectId"], r["wl_id"]) for r in seen_by_bob] == [(o3, public.id)]
    assert len(topic_reader(theirs.topic, idle_s=1)) == 1  # nothing of alice's list

    # arcsec is the exact separation, as astropy computes it (within a milliarcsecond)
    cones = {"close": (30.0 + 2.0 / 3600, 10.0), "wide": (30.0005, 10.0),
             "star": (45.0, -20.0 + 1.0 / 3600)}
    where = {a.diaObjectId: s for a, s in zip(alerts, SPOTS, strict=False)}
    for r in seen_by_alice:
        want = SkyCoord(*where[r["diaObjectId"]], unit="deg").separation(
            SkyCoord(*cones[r["name"]], unit="deg")).to_value(u.arcsec)
        assert r["arcsec"] == pytest.approx(want, abs=1e-3)

    # the same filter over the store gives the same rows as the batch did
    with world.engine.connect() as conn:
        dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
        for user, records in ((alice, seen_by_alice), (bob, seen_by_bob)):
            vf = validate_filter(sql, user_catalogue(conn, user.id))
            rows = run_query(conn, compile_filter(vf, dialect), dialect=dialect, timeout_s=10,
                             row_cap=100).rows
            assert sorted(json.dumps(r, sort_keys=True) for r in rows) == sorted(
                json.dumps({k: v for k, v in r.items() if k != "UTC"}, sort_keys=True)
                for r in records)

    # bob cannot see, change or crossmatch alice's private list; it does not even exist for him
    with world.engine.connect() as conn, pytest.raises(ContextNotFound,
                                                       match=f"no watchlist {private.id}"):
        get_watchlist(conn, private.id, Viewer.of(bob))
    with pytest.raises(ContextNotFound):
        crossmatch_stored(world.engine, private.id, Viewer.of(bob), progress=False)


def test_crossmatch_of_stored_objects_finds_what_the_pipeline_found(ctx_world):
    world = ctx_world
    alerts, private, *_ = _setup(world)
    world.ingest(alerts)
    alice = world.users["alice"]
    from skysift.context.watchlists import hits_of

    with world.engine.connect() as conn:
        before = sorted(
            (h["diaObjectId"], h["cone_id"], h["arcsec"]) for h in hits_of(conn, private.id)
        )
    assert len(before) == 3
    assert crossmatch_stored(world.engine, private.id, Viewer.of(alice), progress=False) == 3
    with world.engine.connect() as conn:
        after = sorted(
            (h["diaObjectId"], h["cone_id"], h["arcsec"]) for h in hits_of(conn, private.id)
        )
    assert after == before


def test_area_hits_are_many_to_many_private_and_lasair_spelling_joins_several(ctx_world,
                                                                             topic_reader):
    world = ctx_world
    alerts, _private, _public, box_a, box_b, big = _setup(world)
    alice, bob = world.users["alice"], world.users["bob"]
    o1, o2, o3 = (a.diaObjectId for a in alerts[:3])
    world.ingest(alerts)
    with world.engine.connect() as conn:
        dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"

        def run(user, tables, conditions="", selected="objects.diaObjectId"):
            sql = build_sql(selected, tables, conditions)
            vf = validate_filter(sql, user_catalogue(conn, user.id))
            rows = run_query(conn, compile_filter(vf, dialect), dialect=dialect, timeout_s=10,
                             row_cap=100).rows
            return sorted(r["diaObjectId"] for r in rows)

        # one object in several areas: area_hits keeps every pair
        assert run(alice, f"objects, area:{box_a.id}") == [o1, o2]
        assert run(alice, f"objects, area:{big.id}") == [o1, o2, o3]
        assert run(alice, f"objects, area:{box_a.id}&{big.id}") == [o1, o2]
        assert run(alice, f"objects, area:{box_b.id}&{big.id}") == [o3]
        # bob's filters cannot read alice's private area: the same query gives nothing
        assert run(bob, f"objects, area:{box_a.id}") == []
        assert run(bob, f"objects, area:{box_a.id}&{big.id}") == []
        assert run(bob, "objects, area_hits") == sorted([o1, o2, o3, o3])  # public ones
    # as a filter on the batch: bob's big-box filter gets records, alice's box is hers only
    flt = add_filter(world.engine, world.settings, bob, name="in my box",
                     sql=build_sql("objects.diaObjectId, area_hits.ar_id",
                                   "objects, area_hits", ""),
                     trigger="alert")
    world.ingest([placed(a, ra, dec) for a, (ra, dec) in zip(rubin_alerts(), SPOTS,
                                                             strict=False)][:3])
    got = sorted((r["diaObjectId"], r["ar_id"]) for r in _records(topic_reader, flt.topic, 4))
    assert got == sorted([(o1, big.id), (o2, big.id), (o3, big.id), (o3, box_b.id)])
