"""What one hostile or careless user could do to the web site, and now cannot (issue 15,
sections 3-7): guess passwords, spoof their address, save and run without end, frame the site,
reuse a cookie after log-out or a password change, get digests mailed to an address that is not
theirs, read a private annotator through a public filter."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from skysift.accounts import add_user
from skysift.web.app import CSP


def _settings_app(make_settings, store_url, kafka_bootstrap, **more):
    from skysift.store.database import open_store
    from skysift.web.app import create_app

    settings = make_settings(kafka=kafka_bootstrap, database=store_url, **more)
    engine = open_store(settings.database_url)
    return settings, engine, create_app(settings, engine)


def _login(b, name: str, password: str):
    return b.submit("/login", {"name": name, "password": password, "next": "/"},
                    form_page="/login")


# ------------------------------------------------------------------------ log-in throttling
def test_password_guessing_locks_the_account_even_for_the_right_password(browser, unique_name):
    b = browser()
    name = unique_name("victim").replace("-", "_")
    b.signup(name, password="the-right-one")
    b.submit("/logout", {})
    attacker = browser()
    codes = [_login(attacker, name, f"guess{i}").status_code for i in range(10)]
    assert codes == [401] * 10
    r = _login(attacker, name, "the-right-one")
    assert r.status_code == 429 and "too many failed log-ins" in r.text
    # the same from another browser: the account is locked, not the cookie jar
    assert _login(browser(), name, "the-right-one").status_code == 429


def test_many_accounts_from_one_address_are_throttled_per_address(browser, unique_name):
    attacker = browser()
    codes = [_login(attacker, unique_name("nobody").replace("-", "_"), "x").status_code
             for _ in range(51)]
    assert codes[:50] == [401] * 50 and codes[50] == 429


def _serve(app, settings):
    """A real uvicorn server with the product's configuration (proxy settings included)."""
    import dataclasses
    import time

    import uvicorn

    from skysift.cli.web_cmd import uvicorn_config
    from skysift.streams.embedded import free_port

    port = free_port()
    config = uvicorn_config(app, dataclasses.replace(settings, web_port=port))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("trusted", [None, "127.0.0.1"])
def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(make_settings, store_url,
                                                                    kafka_bootstrap, trusted):
    settings, engine, app = _settings_app(make_settings, store_url, kafka_bootstrap,
                                          login_failure_limit=2, forwarded_allow_ips=trusted)
    server, thread, base = _serve(app, settings)
    try:
        codes = []
        for i in range(12):  # 12 unknown names, each "from" another address
            r = httpx.post(base + "/api/auth-token/", data={"username": f"n{i}", "password": "x"},
                           headers={"X-Forwarded-For": f"203.0.113.{i}"})
            codes.append(r.status_code)
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()
    if trusted is None:  # spoofed headers ignored: one address, limited after 5 x 2 failures
        assert codes[:10] == [400] * 10 and codes[10:] == [429, 429]
    else:  # behind the configured proxy each forwarded address counts on its own
        assert codes == [400] * 12


# ------------------------------------------------------------------------ saves and runs
def test_filter_saves_and_runs_are_rate_limited(make_settings, store_url, kafka_bootstrap,
                                                unique_name):
    from fastapi.testclient import TestClient

    from skysift.filters.manage import add_filter

    settings, engine, app = _settings_app(make_settings, store_url, kafka_bootstrap,
                                          filter_save_rate_limit=2, anonymous_run_rate_limit=2)
    with engine.begin() as conn:
        user, token = add_user(conn, unique_name("saver"))
    client = TestClient(app)
    auth = {"Authorization": f"Token {token}"}
    sql = "SELECT objects.diaObjectId FROM objects"
    codes = [client.post("/api/filters/", headers=auth, json={
        "name": unique_name("f"), "sql": sql, "output": "email"}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    flt = add_filter(engine, settings, user, name=unique_name("pub"), sql=sql, public=True,
                     output="email")
    anon = TestClient(app)
    runs = [anon.get(f"/filters/{flt.id}?run=1").status_code for _ in range(3)]
    assert runs == [200, 200, 429]
    r = anon.get(f"/filters/{flt.id}?run=1")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert anon.get(f"/filters/{flt.id}").status_code == 200, "reading the page is not limited"
    client.close()
    anon.close()
    engine.dispose()


def test_a_slow_seed_does_not_hold_the_sqlite_write_lock(make_settings, tmp_path, kafka_bootstrap,
                                                         unique_name):
    """The seed query of a save runs after the filter's row is committed: meanwhile another
    writer gets the store's write lock at once (it waited 30 s before)."""
    import sqlite3
    import time

    from confluent_kafka.admin import AdminClient

    from skysift.filters.manage import add_filter
    from skysift.store.database import open_store
    from skysift.store.schema import objects

    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = make_settings(kafka=kafka_bootstrap, database=url, run_timeout_s=60)
    engine = open_store(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        user, _ = add_user(conn, unique_name("slow"))
        conn.execute(objects.insert(), [
            {"diaObjectId": i, "ra": (i % 3600) / 10, "decl": -30.0, "nDiaSources": 1,
             "updated": now} for i in range(1, 20_001)])
    slow = ("SELECT objects.diaObjectId FROM objects WHERE "
            + " + ".join(["flux2mag(objects.ra + 1)"] * 150) + " > 0")
    name = unique_name("slowseed")
    errors: list[BaseException] = []
    saver = threading.Thread(target=lambda: _save(add_filter, engine, settings, user, name,
                                                  slow, errors))
    saver.start()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = f"lasair_{user.id}{name.replace('-', '-')}"
    deadline = time.monotonic() + 30
    while topic not in admin.list_topics(timeout=5).topics:  # the seed query starts now
        assert saver.is_alive() and time.monotonic() < deadline, errors
        time.sleep(0.02)
    raw = sqlite3.connect(tmp_path / "store.db", timeout=0)
    try:
        raw.execute("BEGIN IMMEDIATE")  # the write lock, without waiting
        raw.execute("ROLLBACK")
        assert saver.is_alive(), "the seed query should still be running"
    finally:
        raw.close()
    saver.join(120)
    assert not errors, errors
    engine.dispose()


def _save(add_filter, engine, settings, user, name, sql, errors):
    try:
        add_filter(engine, settings, user, name=name, sql=sql, output="plain", trigger="alert")
    except BaseException as exc:  # reported by the test
        errors.append(exc)


# ------------------------------------------------------------------------ headers and cookies
@pytest.mark.parametrize("secure", [False, True])
def test_security_headers_and_the_secure_cookie(make_settings, store_url, kafka_bootstrap, secure,
                                                unique_name):
    from fastapi.testclient import TestClient

    _settings, engine, app = _settings_app(make_settings, store_url, kafka_bootstrap,
                                           session_cookie_secure=secure)
    client = TestClient(app, base_url="https://testserver" if secure else "http://testserver")
    for path in ("/", "/api/cone/?ra=1&dec=1&radius=1", "/login", "/docs"):
        r = client.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert ("'unsafe-inline'" in csp.split("script-src")[1].split(";")[0]) == (path == "/docs")
        assert ("strict-transport-security" in r.headers) == secure
    assert csp != CSP  # /docs has its own
    page = client.get("/signup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/signup", data={"name": unique_name("c").replace("-", "_"),
                                     "email": "c@example.org", "password": "s3cret-pass",
                                     "password2": "s3cret-pass", "csrf_token": token})
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert ("secure" in cookie.lower().split(";")[-3:] or "; secure" in cookie.lower()) == secure
    client.close()
    engine.dispose()


# ------------------------------------------------------------------------ sessions
def test_an_old_cookie_stops_working_after_log_out_and_after_a_password_change(browser,
                                                                               web_engine,
                                                                               unique_name):
    b = browser()
    name = unique_name("s").replace("-", "_")
    token = b.token_on(b.signup(name, password="first-pass").text)
    stolen = dict(b.client.cookies)
    assert b.get("/profile").status_code == 200
    b.submit("/logout", {})
    thief = browser()
    thief.client.cookies.update(stolen)
    assert thief.get("/profile").status_code == 303, "the logged-out cookie still works"

    _login(b, name, "first-pass")
    stolen = dict(b.client.cookies)
    other = browser()
    r = other.submit("/password", {"name": name, "token": token, "password": "second-pass",
                                   "password2": "second-pass"}, form_page="/password")
    assert r.status_code == 303
    assert other.get("/profile").status_code == 200, "the session that changed it goes on"
    thief = browser()
    thief.client.cookies.update(stolen)
    assert thief.get("/profile").status_code == 303, "a session from before the change works"
    with web_engine.connect() as conn:
        from skysift.store.schema import users, web_sessions

        uid = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()
        assert conn.execute(sa.select(sa.func.count()).select_from(web_sessions)
                            .where(web_sessions.c.user_id == uid)).scalar() == 1


# ------------------------------------------------------------------------ email confirmation
def test_digests_wait_until_the_address_is_confirmed(browser, web_settings, web_engine,
                                                     unique_name, alerts_ingested):
    from email import message_from_bytes, policy
    from urllib.parse import urlsplit

    from skysift.filters.manage import add_filter, get_filter
    from skysift.notify import Notifier
    from skysift.store.schema import email_pending, filters

    b = browser()
    name = unique_name("mail").replace("-", "_")
    page = b.signup(name, email=f"{name}@example.org").text
    assert 'id="email-state">not confirmed' in page
    box = web_settings.maildir / "new"
    links = []
    for f in box.iterdir():
        msg = message_from_bytes(f.read_bytes(), policy=policy.default)
        if msg["To"] == f"{name}@example.org":
            links += re.findall(r"https?://\S+/verify-email\?token=\S+", msg.get_content())
    assert len(links) == 1
    with web_engine.connect() as conn:
        from skysift.accounts import get_user
        from skysift.store.schema import users

        user = get_user(conn, int(conn.execute(sa.select(users.c.id).where(
            users.c.name == name)).scalar()))
    flt = add_filter(web_engine, web_settings, user, name="mine",
                     sql="SELECT objects.diaObjectId FROM objects", output="email",
                     trigger="alert")
    with web_engine.begin() as conn:
        conn.execute(email_pending.insert().values(filter_id=flt.id, diaObjectId=1,
                                                   diaSourceId=1, record='{"x": 1}',
                                                   matched=sa.func.current_timestamp()))
    report = Notifier(web_settings, web_engine).run()
    assert not report.digests and any("has not confirmed" in e for e in report.errors)
    link = urlsplit(links[0])
    assert b.get(f"{link.path}?{link.query}").status_code == 303
    assert 'id="email-state">confirmed' in b.get("/profile").text
    report = Notifier(web_settings, web_engine).run()
    assert report.digests == {"mine": 1}
    with web_engine.connect() as conn:
        assert get_filter(conn, f"#{flt.id}").name == "mine"
        assert conn.execute(sa.select(filters.c.last_email_at).where(
            filters.c.id == flt.id)).scalar() is not None
    assert browser().get("/verify-email?token=forged").status_code == 400


# ------------------------------------------------------------------------ private annotators
def test_a_public_filter_cannot_read_a_private_annotator(web_settings, web_engine, unique_name):
    from skysift.annotations.store import add_annotator
    from skysift.errors import FilterRejected
    from skysift.filters.manage import add_filter, edit_filter

    with web_engine.begin() as conn:
        user, _ = add_user(conn, unique_name("ann"))
        topic = unique_name("secret").replace("-", "_")
        add_annotator(conn, topic, user.id, public=False)
    sql = f"SELECT objects.diaObjectId, {topic}.classification FROM objects, {topic}"
    with pytest.raises(FilterRejected, match=f"cannot read the private annotator {topic}"):
        add_filter(web_engine, web_settings, user, name="leaky", sql=sql, public=True,
                   output="email")
    flt = add_filter(web_engine, web_settings, user, name="mine", sql=sql, public=False,
                     output="email")
    with pytest.raises(FilterRejected, match="private annotator"):
        edit_filter(web_engine, web_settings, flt, public=True)
