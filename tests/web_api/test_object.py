"""/api/object/: the stored object, its light curve and skysift's values, in Lasair's shapes."""

from __future__ import annotations

import json

import pytest

from skysift.streams.records import LITE_FORCED_FIELDS, LITE_SOURCE_FIELDS

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _stored(api, oid):
    from skysift.store.lightcurve import fetch_lightcurves, fetch_objects

    with api.engine.connect() as conn:
        return fetch_objects(conn, [oid])[oid], fetch_lightcurves(conn, [oid]).get(oid)


def _richest(api) -> int:
    """The real object with the most stored sources and forced sources."""
    def size(oid: int) -> int:
        lc = _stored(api, oid)[1]
        return len(lc.diaSources) + len(lc.diaForcedSources) if lc else -1

    return max(api.real_ids, key=size)


def test_full_object_has_the_stored_records_and_skysift_values(api):
    oid = _richest(api)
    row, lc = _stored(api, oid)
    r = api.get("/api/object/", objectId=oid)
    assert r.status_code == 200, r.text
    got = json.loads(r.text)
    assert set(got) == {"diaObjectId", "diaObject", "diaSourcesList", "diaForcedSourcesList",
                        "lasairData"}
    assert got["diaObjectId"] == oid
    assert got["diaSourcesList"] == lc.diaSources  # every field, as sent, oldest first
    assert got["diaForcedSourcesList"] == lc.diaForcedSources
    stored = json.loads(row["diaObject"])
    assert {k: v for k, v in got["diaObject"].items() if k != "decl"} == {
        **stored, "ra": row["ra"], "firstDiaSourceMjdTai": row["firstDiaSourceMjdTai"],
        "lastDiaSourceMjdTai": row["lastDiaSourceMjdTai"]}
    assert got["diaObject"]["decl"] == row["decl"]
    data = got["lasairData"]
    for column in ("nDiaSources", "latestR", "glat", "healpix", "latest_psfFlux"):
        assert data[column] == row[column]
    assert "ra" not in data and "decl" not in data
    assert data["sherlock"] == {} and data["TNS"] == {} and data["annotations"] == []
    assert data["rasex"].count(":") == 2 and data["discMjd"] == lc.diaSources[0]["midpointMjdTai"]


def test_lite_trims_as_lasair(api):
    oid = _richest(api)
    row, lc = _stored(api, oid)
    got = api.post("/api/object/", objectId=oid, lite="True").json()
    assert [set(s) for s in got["diaSourcesList"]] == [set(LITE_SOURCE_FIELDS)] * len(lc.diaSources)
    assert [set(s) for s in got["diaForcedSourcesList"]] == (
        [set(LITE_FORCED_FIELDS)] * len(lc.diaForcedSources))
    assert got["diaSourcesList"][0]["psfFlux"] == lc.diaSources[0]["psfFlux"]
    assert got["diaObject"] == {k: row[k] for k in ("ra", "decl", "firstDiaSourceMjdTai",
                                                    "lastDiaSourceMjdTai")}
    assert set(got["lasairData"]) == {"nDiaSources", "glat", "sherlock", "TNS", "annotations",
                                      "imageUrls"}


def test_without_lasair_added_only_the_stored_records(api):
    oid = _richest(api)
    row, lc = _stored(api, oid)
    got = api.get("/api/object/", objectId=oid, lasair_added="false").json()
    assert got == {"diaObjectId": oid, "diaObject": json.loads(row["diaObject"]),
                   "diaSourcesList": lc.diaSources, "diaForcedSourcesList": lc.diaForcedSources}
    lite = api.get("/api/object/", objectId=oid, lasair_added="false", lite="true").json()
    assert set(lite) == {"diaObjectId", "diaSourcesList", "diaForcedSourcesList"}


def test_reliability_threshold_drops_less_reliable_detections(api):
    import sqlalchemy as sa

    from skysift.store.schema import sources

    oid = _richest(api)
    with api.engine.connect() as conn:
        rel = [r[0] for r in conn.execute(sa.select(sources.c.reliability)
                                          .where(sources.c.diaObjectId == oid))]
    threshold = min(r for r in rel if r is not None) + 1e-9 if any(rel) else 0.5
    got = api.get("/api/object/", objectId=oid, reliabilityThreshold=threshold).json()
    want = [r for r in rel if r is not None and r >= threshold]
    assert len(got["diaSourcesList"]) == len(want) < len(rel)
    assert all(s["reliability"] >= threshold for s in got["diaSourcesList"])


@SQLITE_ONLY
def test_unknown_and_malformed_ids(api):
    r = api.get("/api/object/", objectId=123)
    assert r.status_code == 404 and "not in the store" in r.json()["error"]
    for bad, message in (("abc", "objectId must be a whole number"),
                         ("99999999999999999999", "objectId must be at most"),
                         ("-5", "objectId must be at least 0"), ("", "objectId must be a whole")):
        r = api.get("/api/object/", objectId=bad)
        assert r.status_code == 400 and message in r.json()["error"], (bad, r.text)
    r = api.get("/api/object/", objectId=api.real_ids[0], lite="maybe")
    assert r.status_code == 400 and "lite must be true or false" in r.json()["error"]
    r = api.get("/api/object/", objectId=api.real_ids[0], reliabilityThreshold="2")
    assert r.status_code == 400 and "reliabilityThreshold" in r.json()["error"]
