"""Authentication (401), per-user rate limits (429) and tokens kept out of the logs."""

from __future__ import annotations

import logging

import httpx
import pytest

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
ROUTES = [("GET", "/api/query/"), ("POST", "/api/query/"), ("GET", "/api/cone/"),
          ("POST", "/api/cone/"), ("GET", "/api/object/"), ("POST", "/api/object/"),
          ("GET", "/api/sherlock/object/"), ("POST", "/api/sherlock/position/"),
          ("GET", "/api/filters/"), ("POST", "/api/filters/"), ("GET", "/api/filters/1/"),
          ("PATCH", "/api/filters/1/"), ("DELETE", "/api/filters/1/"), ("GET", "/api/topics/")]


@SQLITE_ONLY
def test_every_route_needs_a_valid_token(api):
    token = api.tokens["alice"]
    for method, path in ROUTES:
        for headers, params in (({}, {}), ({"Authorization": "Token " + "0" * 40}, {}),
                                ({"Authorization": f"Bearer {token}"}, {}),
                                ({"Authorization": f"Token {token} extra"}, {}),
                                ({}, {"token": "not-a-token!"}), ({}, {"token": "1" * 40})):
            r = api.client.request(method, path, headers=headers, params=params)
            assert r.status_code == 401, (method, path, headers, params, r.text)
            assert r.headers["www-authenticate"] == "Token"
            assert r.json()["detail"] and r.json()["error"]


@SQLITE_ONLY
def test_header_and_query_string_tokens_both_work(api):
    args = {"ra": 10, "dec": 20, "radius": 5}
    by_header = api.client.get("/api/cone/", params=args, headers=api.headers("bob"))
    by_query = api.client.get("/api/cone/", params={**args, "token": api.tokens["bob"]})
    by_query_post = api.client.post("/api/cone/?token=" + api.tokens["bob"], data=args)
    assert by_header.status_code == by_query.status_code == by_query_post.status_code == 200
    assert by_header.json() == by_query.json() == by_query_post.json()


@SQLITE_ONLY
def test_rate_limits_per_user_and_class(make_world):
    world = make_world(api_rate_limit=3, api_power_rate_limit=5)
    args = {"ra": 10, "dec": 20, "radius": 5, "requestType": "count"}
    assert [world.get("/api/cone/", **args).status_code for _ in range(3)] == [200] * 3
    over = world.get("/api/cone/", **args)
    assert over.status_code == 429
    assert over.json()["detail"].startswith("Request was throttled. Expected available in")
    assert 0 < int(over.headers["retry-after"]) <= 3600
    assert world.get("/api/query/", selected="diaObjectId", tables="objects").status_code == 429
    # another user has their own count; the power user has the higher limit
    assert world.get("/api/cone/", who="bob", **args).status_code == 200
    assert [world.get("/api/cone/", who="carol", **args).status_code for _ in range(6)] == (
        [200] * 5 + [429])
    # a call without a valid token is a 401, not counted against anyone
    assert world.client.get("/api/cone/", params=args).status_code == 401


def test_the_limit_window_slides():
    from skysift.web.api.auth import RateLimiter

    limiter = RateLimiter()
    assert [limiter.hit("u", 2, 10.0, now=t) for t in (0.0, 1.0)] == [None, None]
    assert limiter.hit("u", 2, 10.0, now=5.0) == pytest.approx(5.0)  # wait for the call at 0
    assert limiter.hit("u", 2, 10.0, now=10.5) is None  # the call at 0 has left the window
    assert limiter.hit("u", 2, 10.0, now=10.6) == pytest.approx(0.4)
    assert limiter.hit("u", 0, 10.0, now=10.6) is None  # 0 = no limit


@SQLITE_ONLY
def test_tokens_never_reach_the_access_log(api, live, caplog):
    token = api.tokens["alice"]
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        r = httpx.get(f"{live}/api/cone/", params={"ra": 1, "dec": 2, "radius": 3,
                                                   "token": token})
        assert r.status_code == 200
        httpx.get(f"{live}/api/cone/?token={token}&ra=x", headers=api.headers())
    access = [rec.getMessage() for rec in caplog.records if rec.name == "uvicorn.access"]
    assert any("/api/cone/" in line and "token=***" in line for line in access), access
    assert not any(token in rec.getMessage() for rec in caplog.records)


def test_mask_handles_the_forms_a_token_takes():
    from skysift.web.api.logmask import mask

    assert mask("/api/x/?token=abc") == "/api/x/?token=***"
    assert mask("/api/x/?a=1&TOKEN=abc&b=2") == "/api/x/?a=1&TOKEN=***&b=2"
    assert mask("username=ann&password=hunter2") == "username=ann&password=***"
    assert mask("/api/x/?mytoken=abc") == "/api/x/?mytoken=abc"
