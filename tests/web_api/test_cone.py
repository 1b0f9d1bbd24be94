"""/api/cone/ and skysift.search.cone against a brute-force astropy separation, on both stores."""

from __future__ import annotations

import json

import numpy as np
import sqlalchemy as sa
from api_world import CENTRES, FIRST_PLACED_ID
from astropy import units as u
from astropy.coordinates import SkyCoord


def _all_positions(engine) -> dict[int, tuple[float, float]]:
    from skysift.store.schema import objects

    with engine.connect() as conn:
        rows = conn.execute(sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl)).all()
    return {int(r[0]): (r[1], r[2]) for r in rows if r[1] is not None}


def _brute(positions, ra, dec, radius) -> tuple[set[int], set[int]]:
    """Ids inside the cone by astropy, and ids too close to the edge to judge (1e-6 arcsec)."""
    ids = list(positions)
    cat = SkyCoord([positions[i][0] for i in ids] * u.deg, [positions[i][1] for i in ids] * u.deg)
    sep = SkyCoord(ra * u.deg, dec * u.deg).separation(cat).arcsec
    inside = {i for i, s in zip(ids, sep, strict=True) if s <= radius}
    edge = {i for i, s in zip(ids, sep, strict=True) if abs(s - radius) < 1e-6}
    return inside, edge


def test_cone_search_finds_exactly_what_brute_force_finds(api):
    from skysift.search.cone import cone_search

    positions = _all_positions(api.engine)
    rng = np.random.default_rng(3)
    cones = [(ra, dec, r) for ra, dec in CENTRES for r in (20.0, 300.0, 1000.0)]
    cones += [(float(ra), float(dec), 1000.0) for ra, dec in
              zip(rng.uniform(0, 360, 5), rng.uniform(-90, 90, 5), strict=True)]
    cones += [(0.0, 5.0, 1000.0), (360.0, 5.0, 1000.0), (45.0, 90.0, 1000.0),
              (0.0, -90.0, 1000.0)]
    nonempty = 0
    with api.engine.connect() as conn:
        for ra, dec, radius in cones:
            got = cone_search(conn, ra, dec, radius)
            want, edge = _brute(positions, ra, dec, radius)
            assert {m.diaObjectId for m in got} - edge == want - edge, (ra, dec, radius)
            seps = [m.separation for m in got]
            assert seps == sorted(seps)
            nonempty += bool(got)
    assert nonempty >= len(CENTRES) * 2  # the test really looked at objects


def test_cone_answers_in_lasair_shapes(api):
    ra, dec = CENTRES[0]
    everything = api.get("/api/cone/", ra=ra, dec=dec, radius=1000).json()
    assert set(everything) == {"objects", "count", "nearest"}
    assert everything["count"] == len(everything["objects"]) > 5
    assert everything["nearest"] == everything["objects"][0]
    assert all(set(o) == {"object", "separation"} for o in everything["objects"])
    nearest = api.get("/api/cone/", ra=ra, dec=dec, radius=1000, requestType="nearest").json()
    assert nearest == {"nearest": everything["objects"][0]}
    count = api.get("/api/cone/", ra=ra, dec=dec, radius=1000, requestType="count").json()
    assert count == {"count": everything["count"]}
    empty = api.get("/api/cone/", ra=300, dec=60, radius=1, requestType="nearest")
    assert empty.status_code == 200 and empty.json() == {}
    none = api.get("/api/cone/", ra=300, dec=60, radius=1).json()
    assert none == {"objects": [], "count": 0, "nearest": {}}


def test_64_bit_ids_come_back_exactly(api):
    ra, dec = api.placed[FIRST_PLACED_ID]
    r = api.get("/api/cone/", ra=ra, dec=dec, radius=0.01, requestType="nearest")
    nearest = json.loads(r.text)["nearest"]
    assert nearest["object"] == FIRST_PLACED_ID and nearest["separation"] < 0.01


def test_get_form_and_json_give_the_same_answer(api):
    args = {"ra": 10.0, "dec": 20.0, "radius": 700, "requestType": "all"}
    by_get = api.get("/api/cone/", **args).json()
    by_form = api.post("/api/cone/", **args).json()
    by_json = api.client.post("/api/cone/", json=args, headers=api.headers()).json()
    by_multipart = api.client.post("/api/cone/", data=args, files={"x": ("x.txt", b"x")},
                                   headers=api.headers()).json()
    assert by_get == by_form == by_json == by_multipart and by_get["count"] > 0


def test_sexagesimal_positions_give_the_same_answer_as_degrees(api):
    from astropy.coordinates import SkyCoord

    ra, dec = 10.4, -45.2
    c = SkyCoord(ra, dec, unit="deg")
    by_degrees = api.get("/api/cone/", ra=ra, dec=dec, radius=900).json()
    assert by_degrees["count"] > 0
    for ra_s, dec_s in (c.to_string("hmsdms", sep=":", precision=4).split(),
                        c.to_string("hmsdms", precision=4).split(),
                        ("00 41 36.0", "-45 12 00")):
        got = api.client.post("/api/cone/", json={"ra": ra_s, "dec": dec_s, "radius": 900},
                              headers=api.headers())
        assert got.status_code == 200 and got.json() == by_degrees, (ra_s, dec_s)
    bad = api.get("/api/cone/", ra="25:00:00", dec="0", radius=5)
    assert bad.status_code == 400 and "RA" in bad.json()["error"]


BAD = [
    ({"ra": 361, "dec": 0, "radius": 5}, "ra must be between 0 and 360"),
    ({"ra": -0.1, "dec": 0, "radius": 5}, "ra must be between 0 and 360"),
    ({"ra": 10, "dec": 90.5, "radius": 5}, "dec must be between -90 and 90"),
    ({"ra": 10, "dec": 0, "radius": 1001}, "Max radius is 1000 arcsec."),
    ({"ra": 10, "dec": 0, "radius": 0}, "radius must be positive"),
    ({"ra": 10, "dec": 0, "radius": -3}, "radius must be positive"),
    ({"ra": "ten", "dec": 0, "radius": 5}, "ra must be a number"),
    ({"ra": "nan", "dec": 0, "radius": 5}, "ra must be a finite number"),
    ({"ra": "1e999", "dec": 0, "radius": 5}, "ra must be a finite number"),
    ({"dec": 0, "radius": 5}, "ra is required"),
    ({"ra": 1, "dec": 0, "radius": 5, "requestType": "some"}, "requestType must be one of"),
    ({"ra": [1, 2], "dec": 0, "radius": 5}, "ra must be a number"),
    ({"ra": True, "dec": 0, "radius": 5}, "ra must be a number"),
]


def test_bad_cone_arguments_answer_400_with_a_message(api):
    for args, message in BAD:
        for r in (api.client.post("/api/cone/", json=args, headers=api.headers()),
                  api.get("/api/cone/", **args) if not isinstance(args.get("ra"), (list, bool))
                  else None):
            if r is None:
                continue
            assert r.status_code == 400, (args, r.text)
            assert message in r.json()["error"], (args, r.text)
