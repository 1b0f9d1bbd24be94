"""The held-out hostile corpus (tests/data/hostile/hostile_sql.jsonl, 334 filters) through every
path that takes filter SQL, on SQLite and PostgreSQL: ``filter add``'s function, ``filter run``'s,
the REST API's ``/api/filters/``, and the web editor's Run. What must be refused is refused with
a message (400, never 500) and leaves nothing behind; what is accepted compiles to bounded text
and, saved active, fails (if at all) alone, while ingest goes on for everyone."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from skysift.accounts import add_user
from skysift.errors import FilterError
from skysift.filters.compile import MAX_COMPILED_CHARS, compile_filter
from skysift.filters.manage import add_filter, catalogue, run_filter
from skysift.filters.validate import validate_filter
from skysift.ingest import ingest_files
from skysift.store.database import open_store
from skysift.store.schema import filters

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile" / "hostile_sql.jsonl"


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines()]


def test_the_corpus_is_larger_than_the_red_teams():
    cases = corpus()
    assert len(cases) > 166
    kinds = collections.Counter(c["category"] for c in cases)
    assert set(kinds) >= {"stacked", "table", "subquery", "function", "deep", "exponential",
                          "size", "statement", "syntax"}


@pytest.mark.timeout(600)
def test_every_path_refuses_the_hostile_and_survives_the_rest(store_url, make_settings,
                                                               kafka_bootstrap, unique_name,
                                                               test_data, topic_reader):
    """Every path on SQLite; on PostgreSQL the paths that differ by store (``filter run`` and
    ``filter add``): the web layers above them are the same code."""
    from fastapi.testclient import TestClient

    from skysift.web.app import create_app

    settings = make_settings(kafka=kafka_bootstrap, database=store_url, api_rate_limit=0,
                             filter_save_rate_limit=0, filter_run_rate_limit=0,
                             run_timeout_s=2, filter_timeout_s=2, notify_interval_s=0)
    engine = open_store(settings.database_url)
    ingest_files(settings, [test_data / "rubin"], progress=False, engine=engine)
    with engine.begin() as conn:
        user, token = add_user(conn, unique_name("h"))
    app = create_app(settings, engine)
    api = TestClient(app)
    auth = {"Authorization": f"Token {token}"}
    site = TestClient(app, follow_redirects=False)
    # the editor needs a logged-in user: give the user a password and log in through the site
    from skysift.store.schema import users
    from skysift.web.passwords import hash_password

    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user.id).values(
            password_hash=hash_password("hostile-pass")))
    page = site.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert site.post("/login", data={"name": user.name, "password": "hostile-pass",
                                     "next": "/", "csrf_token": csrf}).status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', site.get("/filters/new").text).group(1)

    statuses: collections.Counter = collections.Counter()
    accepted = []
    for n, case in enumerate(corpus()):
        sql, expect = case["sql"], case["expect"]
        where = f"case {n} ({case['category']}): {sql[:80]!r}"
        # validation and compilation, as the pipeline does it
        try:
            vf = validate_filter(sql, catalogue(), name="h")
        except FilterError:
            assert expect == "refused", where
        else:
            assert expect == "harmless", f"accepted: {where}"
            for dialect in ("sqlite", "postgresql"):
                assert len(compile_filter(vf, dialect)) < MAX_COMPILED_CHARS, where
        # `filter run` over the store
        with engine.connect() as conn:
            try:
                run_filter(conn, settings, sql, name="h", user_id=user.id)
            except FilterError:
                pass
            else:
                assert expect == "harmless", where
        # `filter add` with Kafka output
        name = f"h{n}"
        try:
            add_filter(engine, settings, user, name=name, sql=sql, output="plain",
                       trigger="alert")
        except FilterError:
            assert expect == "refused", where
        else:
            assert expect == "harmless", where
            accepted.append(name)
        if store_url.startswith("postgresql"):
            continue
        # the REST API
        r = api.post("/api/filters/", headers=auth,
                     json={"name": f"api{n}", "sql": sql, "output": "email", "trigger": "alert"})
        statuses[r.status_code] += 1
        assert r.status_code in (201, 400), f"{r.status_code} {r.text[:200]}: {where}"
        assert (r.status_code == 400) == (expect == "refused"), where
        if r.status_code == 400:
            assert r.json()["error"], where
        # the web editor's Run
        r = site.post("/filters/new", data={"mode": "sql", "sql": sql, "action": "run",
                                            "csrf_token": csrf})
        assert r.status_code in (200, 400), f"{r.status_code}: {where}"
        if expect == "refused":
            assert r.status_code == 400, where
    with engine.connect() as conn:
        saved = {r[0] for r in conn.execute(sa.select(filters.c.name))}
    refused = [c for c in corpus() if c["expect"] == "refused"]
    assert not {f"h{n}" for n, c in enumerate(corpus()) if c["expect"] == "refused"} & saved
    if not store_url.startswith("postgresql"):
        assert statuses[400] == len(refused) and statuses[500] == 0

    # everything accepted is active: ingest goes on, and a good filter gets every alert
    good = add_filter(engine, settings, user, name=unique_name("good"),
                      sql="SELECT objects.diaObjectId FROM objects", output="plain",
                      trigger="alert")
    before = len(topic_reader(good.topic))
    totals = ingest_files(settings, [test_data / "rubin"], progress=False, engine=engine)
    # one record per object of the batch: the solar-system alert has none
    from skysift.alerts.files import read_alerts

    objects = {a.diaObjectId for p in sorted((test_data / "rubin").glob("*.avro"))
               for a in read_alerts(p) if a.diaObjectId is not None}
    assert totals.ingested == len(list((test_data / "rubin").glob("*.avro")))
    assert totals.rejected == 0 and len(objects) >= 6
    got = topic_reader(good.topic, expect=before + len(objects))
    assert len(got) == before + len(objects)
    api.close()
    site.close()
    engine.dispose()
