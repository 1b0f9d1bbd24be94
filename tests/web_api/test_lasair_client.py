"""The real ``lasair`` client (PyPI 0.1.4, unchanged) against a real uvicorn server."""

from __future__ import annotations

import pytest
from api_world import CENTRES
from lasair import LasairError, lasair_client


def test_lasair_client_cone_query_object(api, live):
    client = lasair_client(api.tokens["alice"], endpoint=f"{live}/api")
    ra, dec = CENTRES[0]
    cone = client.cone(ra, dec, radius=1000, requestType="all")
    assert cone["count"] == len(cone["objects"]) > 0
    assert client.cone(ra, dec, 1000, requestType="count") == {"count": cone["count"]}
    nearest = client.cone(ra, dec, 1000, requestType="nearest")["nearest"]
    assert nearest == cone["nearest"] and nearest["object"] in api.placed

    rows = client.query("diaObjectId, ra, decl", "objects", "decl > 89", limit=5, offset=2)
    everything = client.query("diaObjectId, ra, decl", "objects", "decl > 89", limit=1000)
    assert rows == everything[2:7] and all(r["decl"] > 89 for r in everything)

    oid = api.real_ids[0]
    obj = client.object(oid)  # the client's defaults: lite=True, lasair_added=True
    assert obj["diaObjectId"] == oid and set(obj["lasairData"]) >= {"nDiaSources", "glat"}
    assert all(set(s) == {"psfFlux", "psfFluxErr", "midpointMjdTai", "band", "reliability"}
               for s in obj["diaSourcesList"]) and obj["diaSourcesList"]
    full = client.object(oid, lite=False, lasair_added=False)
    assert "diaObject" in full and "lasairData" not in full


def test_lasair_client_sees_lasair_errors(api, live):
    client = lasair_client(api.tokens["alice"], endpoint=f"{live}/api")
    with pytest.raises(LasairError) as err:
        client.sherlock_object(api.real_ids[0])
    assert "Bad Request" in err.value.message and "Sherlock" in err.value.message
    with pytest.raises(LasairError) as err:
        client.sherlock_position(10.0, 20.0)
    assert "not configured" in err.value.message
    with pytest.raises(LasairError) as err:
        client.cone(400, 20, 5)
    assert "ra must be between 0 and 360" in err.value.message
    with pytest.raises(LasairError) as err:
        client.query("*", "users", "")
    assert "users" in err.value.message
    with pytest.raises(LasairError) as err:
        lasair_client("0" * 40, endpoint=f"{live}/api").cone(10, 20, 5)
    assert err.value.message == "Unauthorized"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_lasair_client_sees_the_rate_limit(make_world):
    from api_world import serve

    world = make_world(api_rate_limit=2)
    with serve(world.app) as url:
        client = lasair_client(world.tokens["bob"], endpoint=f"{url}/api")
        client.cone(10, 20, 5)
        client.cone(10, 20, 5)
        with pytest.raises(LasairError) as err:
            client.cone(10, 20, 5)
        assert err.value.message.startswith("Request limit exceeded")
