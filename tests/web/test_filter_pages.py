"""Filter pages: run, save (topic seeded), errors beside the SQL, privacy, public copy."""

from __future__ import annotations

import html
import json
import re

import sqlalchemy as sa

from skysift.accounts import get_user
from skysift.filters.manage import get_filter, list_filters
from skysift.store.schema import objects

SQL = {"selected": "objects.diaObjectId, objects.ra, objects.nDiaSources", "tables": "objects",
       "conditions": "objects.nDiaSources >= 1 ORDER BY objects.diaObjectId"}


def _new_user(browser, unique_name, prefix):
    b = browser()
    name = unique_name(prefix).replace("-", "_")
    b.signup(name)
    return b, name


def _save(b, name, *, public=False, output="plain", sql=SQL, description="d"):
    data = {**sql, "action": "save", "name": name, "description": description, "trigger": "none",
            "output": output}
    if public:
        data["public"] = "1"
    r = b.submit("/filters/new", data, form_page="/filters/new")
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_run_lists_matching_objects_with_links(browser, unique_name, alerts_ingested, web_engine):
    b, _ = _new_user(browser, unique_name, "run")
    r = b.submit("/filters/new", {**SQL, "action": "run"}, form_page="/filters/new")
    assert r.status_code == 200
    ids = re.findall(r'class="objlink" href="/objects/(\d+)"', r.text)
    assert len(ids) >= 6 and ids == sorted(ids, key=int)
    assert b.get(f"/objects/{ids[0]}").status_code == 200


def test_errors_are_400_beside_the_sql_naming_the_bad_part(browser, unique_name):
    b, _ = _new_user(browser, unique_name, "err")
    cases = [
        ({**SQL, "tables": "objects, users"}, "table 'users' is not allowed", "FROM"),
        ({**SQL, "conditions": "objects.ra > 1; DROP TABLE users"}, "DROP", "WHERE"),
        ({**SQL, "selected": "objects.nope"}, "column 'objects.nope' does not exist", "SELECT"),
        ({**SQL, "conditions": "load_file('/etc/passwd') IS NOT NULL"}, "load_file", "WHERE"),
        ({**SQL, "conditions": "objects.ra IN (SELECT 1)"}, "subqueries are not allowed", "WHERE"),
        ({**SQL, "selected": "x" * 5000}, "SELECT is too long", None),
    ]
    for data, message, box in cases:
        for action in ("run", "save"):
            r = b.submit("/filters/new", {**data, "action": action, "name": "n"},
                         form_page="/filters/new")
            assert r.status_code == 400, (data, action)
            text = html.unescape(r.text)
            error = re.search(r'<p class="error" id="sql-error"[^>]*>(.*?)</p>', text, re.DOTALL)
            assert error and message in error.group(1), (message, text[-2000:])
            if box:
                assert f"In the {box} box" in error.group(1)


def test_save_seeds_the_topic_and_the_page_shows_how_to_consume(
        browser, unique_name, alerts_ingested, web_engine, kafka_bootstrap, topic_reader):
    b, name = _new_user(browser, unique_name, "save")
    fid = _save(b, "bright_ones", output="lite")
    page = html.unescape(b.get(f"/filters/{fid}").text)
    with web_engine.connect() as conn:
        flt = get_filter(conn, f"#{fid}")
    assert flt.user_name == name and flt.output == "lite" and not flt.public
    assert f'id="topic-name">{flt.topic}<' in page
    assert f"kafka_server = '{kafka_bootstrap}'" in page and f"my_topic = '{flt.topic}'" in page
    assert f"consume --topic {flt.topic}" in page
    with web_engine.connect() as conn:
        n_objects = conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar()
    records = topic_reader(flt.topic, expect=min(10, n_objects))
    assert len(records) == min(10, n_objects) > 0
    assert all("diaSourcesList" in json.loads(m.value())["alert"] for m in records)  # lite
    m = re.search(r"produced <b>(\d+)</b> records today", page)
    assert m and int(m.group(1)) == len(records)
    # the quota meter says what it measures: bytes used of the quota, as a number
    from skysift.store.schema import topic_stats

    with web_engine.connect() as conn:
        used = conn.execute(sa.select(sa.func.sum(topic_stats.c.bytes_produced))
                            .where(topic_stats.c.topic == flt.topic)).scalar()
    label = re.search(r'id="quota-label">Today\'s quota: ([\d,]+) of ([\d,]+) bytes used', page)
    assert label and int(label.group(1).replace(",", "")) == used > 0
    assert int(label.group(2).replace(",", "")) == flt.byte_quota
    # the filter is in "my filters", and editing it keeps the same side effects
    assert flt.topic in b.get("/filters").text
    edit = b.submit(f"/filters/{fid}/edit", {**SQL, "action": "save", "name": "bright_ones",
                                             "output": "plain", "trigger": "alert"},
                    form_page=f"/filters/{fid}/edit")
    assert edit.status_code == 303
    with web_engine.connect() as conn:
        assert get_filter(conn, f"#{fid}").output == "plain"


def test_private_filters_are_invisible_to_other_users(browser, unique_name, web_engine):
    alice, _ = _new_user(browser, unique_name, "alice")
    fid = _save(alice, "secret_plan")
    with web_engine.connect() as conn:
        topic = get_filter(conn, f"#{fid}").topic
    bob, _ = _new_user(browser, unique_name, "bob")
    nobody = browser()
    for who in (bob, nobody):
        for path in (f"/filters/{fid}", f"/filters/{fid}?run=1", "/filters", "/"):
            r = who.get(path)
            assert "secret_plan" not in r.text and topic not in r.text, path
        assert who.get(f"/filters/{fid}").status_code == 404
    assert bob.get(f"/filters/{fid}/edit").status_code == 404
    for action in ("edit", "delete", "copy"):
        r = bob.submit(f"/filters/{fid}/{action}", {**SQL, "action": "save", "name": "mine"},
                       form_page="/filters")
        assert r.status_code == 404, action
    with web_engine.connect() as conn:
        assert get_filter(conn, f"#{fid}").name == "secret_plan"
    assert alice.get(f"/filters/{fid}").status_code == 200


def test_public_filters_are_readable_copyable_but_only_owner_edits(
    browser, unique_name, web_engine
):
    alice, _ = _new_user(browser, unique_name, "pub")
    fid = _save(alice, "shared_one", public=True, description="<script>alert(1)</script>")
    bob, bob_name = _new_user(browser, unique_name, "cop")
    assert "shared_one" in bob.get("/filters").text
    page = bob.get(f"/filters/{fid}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert bob.get(f"/filters/{fid}/edit").status_code == 403
    r = bob.submit(f"/filters/{fid}/edit", {**SQL, "action": "save", "name": "taken"},
                   form_page="/filters")
    assert r.status_code == 403
    assert bob.submit(f"/filters/{fid}/delete", {}, form_page="/filters").status_code == 403
    r = bob.submit(f"/filters/{fid}/copy", {}, form_page="/filters")
    assert r.status_code == 303
    with web_engine.connect() as conn:
        mine = list_filters(conn, get_user(conn, bob_name))
        original = get_filter(conn, f"#{fid}")
    assert [f.name for f in mine] == ["shared_one_copy"]
    assert mine[0].sql == original.sql and not mine[0].public and mine[0].trigger == "none"
    assert original.name == "shared_one" and original.user_id != mine[0].user_id
    assert (
        alice.submit(f"/filters/{fid}/delete", {}, form_page=f"/filters/{fid}").status_code == 303
    )
    assert alice.get(f"/filters/{fid}").status_code == 404


def test_a_new_filter_saved_as_the_editor_offers_it_runs_on_new_alerts(browser, unique_name,
                                                                        web_engine):
    """The editor's default is "on new alert" (the CLI's): a saved stream is not stuck with its
    ten seeded records."""
    b, _ = _new_user(browser, unique_name, "dflt")
    page = b.get("/filters/new").text
    checked = re.search(r'<input type="radio" name="trigger" value="(\w+)" checked>', page)
    assert checked and checked.group(1) == "alert"
    r = b.submit("/filters/new", {**SQL, "action": "save", "name": "defaults", "output": "plain"},
                 form_page="/filters/new")  # no trigger field: as a script posting the form
    assert r.status_code == 303, r.text
    from skysift.store.schema import filters

    fid = int(r.headers["location"].rsplit("/", 1)[1])
    with web_engine.connect() as conn:
        assert (
            conn.execute(sa.select(filters.c.trigger).where(filters.c.id == fid)).scalar()
            == "alert"
        )


def test_a_slow_run_does_not_hold_up_other_pages(browser, unique_name, alerts_ingested,
                                                 monkeypatch):
    """The editor's Run works in a worker thread: while one is held inside the store, another
    request on the same event loop is answered (it hung until the Run ended when the Run ran on
    the loop)."""
    import threading

    import skysift.web.pages.filters as pages

    b, _ = _new_user(browser, unique_name, "slow")
    entered, gate = threading.Event(), threading.Event()
    real = pages.run_filter

    def held_run(*args, **kwargs):
        entered.set()
        assert gate.wait(60), "the test did not release the run"
        return real(*args, **kwargs)

    monkeypatch.setattr(pages, "run_filter", held_run)
    token = b.csrf("/filters/new")
    answers: dict[str, int] = {}
    with b.client:  # one event loop for every request below, as in a real server
        run = threading.Thread(target=lambda: answers.setdefault("run", b.client.post(
            "/filters/new", data={**SQL, "action": "run", "csrf_token": token}).status_code))
        run.start()
        try:
            assert entered.wait(30)
            other = threading.Thread(target=lambda: answers.setdefault(
                "home", b.client.get("/").status_code))
            other.start()
            other.join(30)
            assert answers.get("home") == 200  # answered while the Run is still held
            assert "run" not in answers
        finally:
            gate.set()
            run.join(30)
    assert answers["run"] == 200
