"""/api/watchlists/, /api/watchmaps/ and /api/gw/: uploads with problems reported by line,
privacy across users, owner-only changes, and Lasair's watchlist:N through /api/query/."""

from __future__ import annotations

import json

import pytest

from skysift.context.owned import Viewer
from skysift.context.watchlists import crossmatch_stored


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_watchlists_through_the_api_are_private_owned_and_usable_in_queries(api):
    oid, (ra, dec) = next(iter(api.placed.items()))
    csv = f"ra,dec,name,radius\n{ra},{dec},target,2\n{ra},100,bad,2\n0,0,far,4000\n"
    r = api.client.post("/api/watchlists/", headers=api.headers("alice"),
                        data={"name": "mine", "radius": "3"},
                        files={"cones": ("targets.csv", csv.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["name"], made["owner"], made["public"], made["n_cones"], made["radius"]) == (
        "mine", "alice", False, 1, 3.0)
    assert made["problems"] == [
        {"line": 3, "error": "dec 100.0 is not between -90 and 90 degrees"},
        {"line": 4, "error": "radius 4000 arcsec is above the largest allowed, 1800"}]
    wl_id = made["wl_id"]
    assert crossmatch_stored(api.engine, wl_id, Viewer(api.users["alice"].id), progress=False) >= 1

    got = api.client.get(f"/api/watchlists/{wl_id}/", headers=api.headers("alice")).json()
    assert {"diaObjectId": oid, "name": "target"}.items() <= got["hits"][0].items()
    assert got["hits"][0]["arcsec"] == pytest.approx(0.0, abs=1e-6)

    # bob: the list does not exist for him, in every route and in queries
    for method, path in (("get", f"/api/watchlists/{wl_id}/"),
                         ("delete", f"/api/watchlists/{wl_id}/"),
                         ("patch", f"/api/watchlists/{wl_id}/")):
        r = getattr(api.client, method)(path, headers=api.headers("bob"),
                                        **({"json": {"name": "x"}} if method == "patch" else {}))
        assert r.status_code == 404 and r.json()["error"].startswith(f"no watchlist {wl_id}"), (
            r.text
        )
    assert [
        w["wl_id"]
        for w in api.client.get("/api/watchlists/", headers=api.headers("bob")).json()["watchlists"]
    ] == []
    query = {"selected": "objects.diaObjectId, watchlist_hits.name", "tables":
             f"objects, watchlist:{wl_id}", "conditions": ""}
    assert api.client.post("/api/query/", headers=api.headers("alice"), json=query).json() == [
        {"diaObjectId": oid, "name": "target"}]
    assert api.client.post("/api/query/", headers=api.headers("bob"), json=query).json() == []

    # made public: bob sees and queries it, but may not change it
    r = api.client.patch(f"/api/watchlists/{wl_id}/", headers=api.headers("alice"),
                         json={"public": True})
    assert r.status_code == 200 and r.json()["public"] is True
    assert api.client.post("/api/query/", headers=api.headers("bob"), json=query).json() == [
        {"diaObjectId": oid, "name": "target"}]
    r = api.client.delete(f"/api/watchlists/{wl_id}/", headers=api.headers("bob"))
    assert r.status_code == 403 and "not yours" in r.json()["error"]
    r = api.client.delete(f"/api/watchlists/{wl_id}/", headers=api.headers("alice"))
    assert r.json() == {"deleted": wl_id}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_json_cones_and_watchmaps_from_polygons_and_mocs(api):
    r = api.client.post("/api/watchlists/", headers=api.headers("bob"), json={
        "name": "json list", "cones": [[10, 20, "a"], [11, 21, "b", 5], ["x", 1, "c"]],
        "public": True})
    assert r.status_code == 201 and r.json()["n_cones"] == 2
    assert r.json()["problems"] == [{"line": 3, "error": "expected [ra, dec, name(, radius)] "
                                                          "with numbers"}]
    r = api.client.post("/api/watchmaps/", headers=api.headers("bob"), json={
        "name": "box", "polygon": [[10, 10], [20, 10], [20, 20], [10, 20]]})
    assert r.status_code == 201, r.text
    box = r.json()
    # a 10 x 10 degree box near the equator: about 98.5 deg2 (sin 20 - sin 10) * 10 * 180/pi
    assert box["area"] == pytest.approx(98.5, rel=0.02)
    r = api.client.post("/api/watchmaps/", headers=api.headers("bob"),
                        json={"name": "cells", "moc": {"3": [1, 2, 3]}})
    assert r.status_code == 201 and r.json()["max_order"] == 3
    r = api.client.post("/api/watchmaps/", headers=api.headers("bob"),
                        json={"name": "bad", "moc": "not a moc"})
    assert r.status_code == 400 and "is not a MOC" in r.json()["error"]
    assert api.client.get(f"/api/watchmaps/{box['ar_id']}/",
                          headers=api.headers("alice")).status_code == 404


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_gw_events_are_listed_with_their_hits(api):
    from pathlib import Path

    from skysift.bridge import register_notices
    from skysift.skymaps.notice import decode_notice

    notice = Path("/work/shared/data/lvk/notices/S230518h-initial.json")
    if not notice.exists():
        notice = (
            Path(__file__).resolve().parents[3] / "shared/data/lvk/notices/S230518h-initial.json"
        )
    register_notices(api.engine, api.settings, [decode_notice(notice.read_bytes())])
    events = api.client.get("/api/gw/", headers=api.headers("bob")).json()["events"]
    assert [(e["superevent_id"], e["alert_type"], e["map_version"]) for e in events] == [
        ("S230518h", "INITIAL", 1)]
    one = api.client.get("/api/gw/S230518h/", headers=api.headers("bob")).json()
    assert one["area90"] == pytest.approx(666, rel=0.01) and one["hits"] == []
    r = api.client.get("/api/gw/S000000x/", headers=api.headers("bob"))
    assert r.status_code == 404 and json.loads(r.text)["error"].startswith("no gravitational")
