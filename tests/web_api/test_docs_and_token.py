"""/docs served from the package (no CDN), the OpenAPI schema, and /api/auth-token/."""

from __future__ import annotations

import re

import pytest

SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_docs_load_only_local_assets(api):
    from skysift.web.api.docs import ASSETS

    page = api.client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'",
                                                                          page.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "validatorUrl\": null" in page.text  # no call to validator.swagger.io either
    for url in urls:
        r = api.client.get(url)
        assert r.status_code == 200 and len(r.content) > 100, url
    assert api.client.get("/docs/swagger/swagger-ui-bundle.js").headers[
        "content-type"].startswith("text/javascript")
    assert set(ASSETS) <= {p.name for p in __import__("skysift.web.api.docs").web.api.docs
                           .SWAGGER_DIR.iterdir()}
    for bad in ("../__init__.py", "..%2F..%2Fconfig.py", "VERSION", "nothing.js"):
        assert api.client.get(f"/docs/swagger/{bad}").status_code == 404


@SQLITE_ONLY
def test_openapi_documents_every_route_and_the_token(api):
    schema = api.client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/query/", "/api/cone/", "/api/object/", "/api/sherlock/object/",
                 "/api/sherlock/position/", "/api/auth-token/", "/api/filters/",
                 "/api/filters/{filter_id}/", "/api/topics/"):
        assert path in paths, path
    cone = {p["name"] for p in paths["/api/cone/"]["get"]["parameters"]}
    assert {"ra", "dec", "radius", "requestType"} <= cone
    assert "requestBody" in paths["/api/cone/"]["post"]
    schemes = schema["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"Authorization", "token"}


@SQLITE_ONLY
def test_auth_token_makes_a_new_token_from_the_password(api):
    passwords = pytest.importorskip("skysift.web.passwords",
                                    reason="the accounts engineer's password module is missing")
    from skysift.store.schema import users

    with api.engine.begin() as conn:
        conn.execute(users.update().where(users.c.name == "bob").values(
            password_hash=passwords.hash_password("correct horse battery")))
    old = api.tokens["bob"]
    r = api.client.post("/api/auth-token/", data={"username": "Bob",
                                                  "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert re.fullmatch(r"[0-9a-f]{40}", new) and new != old
    args = {"ra": 1, "dec": 1, "radius": 1}
    assert api.client.get("/api/cone/", params=args,
                          headers={"Authorization": f"Token {new}"}).status_code == 200
    # the old token keeps working: a script that fetches a token logs no other one out
    assert api.client.get("/api/cone/", params=args,
                          headers={"Authorization": f"Token {old}"}).status_code == 200
    for data in ({"username": "bob", "password": "wrong"},
                 {"username": "alice", "password": "correct horse battery"},  # no password set
                 {"username": "nobody", "password": "x"}):
        r = api.client.post("/api/auth-token/", json=data)
        assert r.status_code == 400
        assert r.json()["error"] == "Unable to log in with provided credentials."
    assert api.client.post("/api/auth-token/", data={"username": "bob"}).status_code == 400


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_auth_token_is_rate_limited_per_client(make_world):
    world = make_world(api_rate_limit=3)
    codes = [world.client.post("/api/auth-token/", data={"username": "bob", "password": "x"})
             .status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


@SQLITE_ONLY
def test_the_site_app_serves_the_api_and_its_docs(api):
    """The real app factory mounts this API at /api and /docs (no CSRF on token calls)."""
    from fastapi.testclient import TestClient

    from skysift.web.app import create_app

    with TestClient(create_app(api.settings, api.engine)) as client:
        args = {"ra": 10, "dec": 20, "radius": 900}
        r = client.post("/api/cone/", data=args, headers=api.headers())
        assert r.status_code == 200 and r.json()["count"] > 0
        assert client.get("/api/cone/", params=args).status_code == 401
        assert client.get("/api/cone/", params={**args, "ra": 999},
                          headers=api.headers()).json()["error"].startswith("ra must be")
        page = client.get("/docs")
        assert page.status_code == 200 and "/docs/swagger/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower()
