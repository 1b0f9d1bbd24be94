"""Accounts on the web: sign-up, log in/out, hashed passwords, tokens shown once, CSRF, admin."""

from __future__ import annotations

import re

import sqlalchemy as sa

from skysift.accounts import add_user, user_for_token
from skysift.store.schema import users


def test_signup_shows_id_and_a_working_token_then_logout_and_login(
    browser, web_engine, unique_name
):
    b = browser()
    name = unique_name("ann").replace("-", "_")
    page = b.signup(name, "correct horse battery").text
    uid, token = b.user_id_on(page), b.token_on(page)
    with web_engine.connect() as conn:
        assert user_for_token(conn, token).id == uid
        stored = conn.execute(sa.select(users.c.password_hash).where(users.c.id == uid)).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored

    assert b.get("/profile").status_code == 200
    assert token not in b.get("/profile").text  # shown once only
    assert b.submit("/logout", {}, form_page="/profile").status_code == 303
    r = b.get("/profile")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")

    bad = b.submit("/login", {"name": name, "password": "wrong password"}, form_page="/login")
    assert bad.status_code == 401 and "wrong user name or password" in bad.text
    ok = b.submit("/login", {"name": name.upper(), "password": "correct horse battery",
                             "next": "/filters"}, form_page="/login")
    assert ok.status_code == 303 and ok.headers["location"] == "/filters"
    assert f'id="user-id">{uid}<' in b.get("/profile").text


def test_a_user_holds_several_tokens_lists_and_revokes_each(browser, web_engine, unique_name):
    b = browser()
    old = b.token_on(b.signup(unique_name("tok").replace("-", "_")).text)
    page = b.submit("/profile/token", {"name": "cron job"}, form_page="/profile")
    assert page.status_code == 200
    new = b.token_on(page.text)
    assert new != old
    with web_engine.begin() as conn:  # both work: a new token logs no other script out
        assert user_for_token(conn, old) is not None
        assert user_for_token(conn, new) is not None
    listed = b.get("/profile").text.split('id="tokens"')[1].split("</table>")[0]
    rows = re.findall(r"<code>([0-9a-f]{8})…</code></td><td>([^<]*)</td><td>[^<]+</td>"
                      r"<td>([^<]+)</td>", listed)
    assert {(p, n) for p, n, _ in rows} == {(old[:8], "first"), (new[:8], "cron job")}
    assert all(used != "never" for _, _, used in rows)  # both were used just above
    ids = dict(zip((p for p, _, _ in rows), re.findall(r"/profile/token/(\d+)/revoke", listed),
                   strict=False))
    r = b.submit(f"/profile/token/{ids[old[:8]]}/revoke", {}, form_page="/profile")
    assert r.status_code == 303
    with web_engine.begin() as conn:
        assert user_for_token(conn, old) is None
        assert user_for_token(conn, new) is not None
    other = browser()
    other.signup(unique_name("tok2").replace("-", "_"))
    r = other.submit(f"/profile/token/{ids[new[:8]]}/revoke", {}, form_page="/profile")
    assert r.status_code == 404  # not theirs to revoke
    with web_engine.begin() as conn:
        assert user_for_token(conn, new) is not None


def test_state_changes_without_the_right_csrf_token_are_refused(browser, web_engine, unique_name):
    b = browser()
    token = b.token_on(b.signup(unique_name("csrf").replace("-", "_")).text)
    for bad in ("", "forged-token"):
        r = b.submit("/profile/token", {}, csrf=bad)
        assert r.status_code == 403 and "security token" in r.text
        r = b.submit("/filters/new", {"action": "save", "name": "x", "selected": "objects.ra"},
                     csrf=bad)
        assert r.status_code == 403
        assert b.submit("/logout", {}, csrf=bad).status_code == 403
    with web_engine.connect() as conn:
        assert user_for_token(conn, token) is not None  # the token was not replaced
    assert b.get("/profile").status_code == 200  # still logged in
    # another session's token does not work either
    other = browser()
    r = b.submit("/profile/token", {}, csrf=other.csrf("/login"))
    assert r.status_code == 403


def test_signup_refuses_bad_names_emails_passwords_and_duplicates(browser, unique_name):
    b = browser()
    name = unique_name("dup").replace("-", "_")
    b.signup(name)
    cases = [
        ({"name": "has space", "email": "a@b.org", "password": "longenough"}, "user name is 1-150"),
        ({"name": name.upper(), "email": "a@b.org", "password": "longenough"}, "exists already"),
        ({"name": "ok_name", "email": "not-an-email", "password": "longenough"}, "email"),
        ({"name": "ok_name", "email": "a@b.org", "password": "short"}, "at least 8"),
        ({"name": "x" * 151, "email": "a@b.org", "password": "longenough"}, "too long"),
    ]
    c = browser()
    for data, message in cases:
        r = c.submit("/signup", {**data, "password2": data["password"]}, form_page="/signup")
        assert r.status_code == 400, data
        assert message in r.text, (data, message)


def test_cli_user_sets_a_password_with_the_api_token(browser, web_engine, unique_name):
    name = unique_name("cli").replace("-", "_")
    with web_engine.begin() as conn:
        _, token = add_user(conn, name, None)
    b = browser()
    assert b.submit("/login", {"name": name, "password": "anything8"},
                    form_page="/login").status_code == 401
    r = b.submit("/password", {"name": name, "token": "0" * 40, "password": "new-password"},
                 form_page="/password")
    assert r.status_code == 400
    r = b.submit("/password", {"name": name, "token": token, "password": "new-password"},
                 form_page="/password")
    assert r.status_code == 303
    assert name in b.get("/profile").text
    c = browser()
    assert c.submit("/login", {"name": name, "password": "new-password"},
                    form_page="/login").status_code == 303


def test_admin_pages_are_for_admins_only(browser, web_engine, unique_name):
    anonymous = browser()
    assert anonymous.get("/admin/users").status_code == 303  # to the login page
    plain = browser()
    plain_name = unique_name("plain").replace("-", "_")
    plain_id = plain.user_id_on(plain.signup(plain_name).text)
    assert plain.get("/admin/users").status_code == 403
    assert plain.submit(f"/admin/users/{plain_id}/power", {"power": "1"},
                        form_page="/profile").status_code == 403

    admin_name = unique_name("boss").replace("-", "_")
    with web_engine.begin() as conn:
        _, token = add_user(conn, admin_name, None, is_admin=True)
    admin = browser()
    admin.submit("/password", {"name": admin_name, "token": token, "password": "admin-pass"},
                 form_page="/password")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and plain_name in page.text and "Admin" in page.text
    r = admin.submit(f"/admin/users/{plain_id}/power", {"power": "1"}, form_page="/admin/users")
    assert r.status_code == 303
    with web_engine.connect() as conn:
        assert conn.execute(sa.select(users.c.is_power).where(users.c.id == plain_id)).scalar()


def test_admins_register_annotators_on_the_admin_page(browser, web_engine, unique_name):
    from skysift.annotations.store import list_annotators

    plain = browser()
    plain_name = unique_name("owner").replace("-", "_")
    plain.signup(plain_name)
    assert plain.get("/admin/annotators").status_code == 403
    assert plain.submit("/admin/annotators", {"topic": "sneaky", "owner": plain_name},
                        form_page="/profile").status_code == 403

    admin_name = unique_name("boss").replace("-", "_")
    with web_engine.begin() as conn:
        _, token = add_user(conn, admin_name, None, is_admin=True)
    admin = browser()
    admin.submit("/password", {"name": admin_name, "token": token, "password": "admin-pass"},
                 form_page="/password")
    r = admin.submit("/admin/annotators", {"topic": "fruitbat", "owner": plain_name,
                                           "description": "bats", "public": "1"},
                     form_page="/admin/annotators")
    assert r.status_code == 303
    page = admin.get("/admin/annotators")
    assert page.status_code == 200 and "fruitbat" in page.text and plain_name in page.text
    with web_engine.connect() as conn:
        (a,) = [x for x in list_annotators(conn) if x.topic == "fruitbat"]
    assert (a.user_name, a.public, a.active, a.description) == (plain_name, True, True, "bats")
    bad = admin.submit("/admin/annotators", {"topic": "select", "owner": plain_name},
                       form_page="/admin/annotators")
    assert bad.status_code == 400 and "keyword" in bad.text
