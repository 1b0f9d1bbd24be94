"""/api/filters/{id}/backtest/ and /replay/, and the flood warning of a save, end to end: the real
Rubin alerts ingested through the live pipeline (which archives them) into real topics of the
embedded Kafka broker, then backtested and replayed over that archive.

One world per module (a SQLite store; the backtest engine is the same on both stores, and the
store is only read through SQLAlchemy): the ingest and the live topics are made once.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from kafka_reading import read_topic

pytestmark = pytest.mark.kafka

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
EVERYTHING = "SELECT objects.diaObjectId FROM objects"
BRIGHT = ("SELECT objects.diaObjectId, objects.ra, objects.decl, "
          "flux2mag(objects.latest_psfFlux) AS mag FROM objects "
          "WHERE objects.latest_psfFlux > 3000")
NOTHING = "SELECT objects.diaObjectId FROM objects WHERE objects.latest_psfFlux > 1e30"
FLOOD = ("over the archived night {night}, it matched {n} of {n} alerts (100.0%; the limit is "
         "5.0%): it may flood its topic")


@dataclasses.dataclass
class World:
    settings: Any
    engine: Any
    app: Any
    client: Any
    tokens: dict[str, str]
    users: dict[str, Any]
    filters: dict[str, Any]
    #: per filter name: its live records (reason=alert) by night
    live: dict[str, Counter]
    #: per filter name: its live records' keys (diaObjectId) by night
    live_keys: dict[str, dict[str, set[int]]]
    #: per filter name: the bytes of its live records by night
    live_bytes: dict[str, Counter]
    #: archived alerts by night
    alerts: Counter

    def post(self, path: str, who: str = "alice", **data: Any):
        return self.client.post(path, data=data,
                                headers={"Authorization": f"Token {self.tokens[who]}"})

    def get(self, path: str, who: str = "alice"):
        return self.client.get(path, headers={"Authorization": f"Token {self.tokens[who]}"})


@pytest.fixture(scope="module")
def world(tmp_path_factory, kafka_bootstrap):
    from fastapi.testclient import TestClient

    from skysift.accounts import add_user
    from skysift.alerts.files import iter_alert_files, read_alerts
    from skysift.archive import night_of
    from skysift.config import load_settings
    from skysift.filters.manage import add_filter
    from skysift.ingest import ingest_files
    from skysift.store.database import open_store
    from skysift.web.api.testing import make_api_app

    folder = tmp_path_factory.mktemp("backtest-api")
    settings = load_settings(env={}, overrides={
        "data_dir": folder / "data", "kafka": kafka_bootstrap,
        "database": f"sqlite:///{folder / 'store.db'}", "api_rate_limit": 10_000,
        "filter_run_rate_limit": 10_000, "filter_save_rate_limit": 10_000})
    engine = open_store(settings.database_url)
    users, tokens = {}, {}
    with engine.begin() as conn:
        for name in ("alice", "bob"):
            users[name], tokens[name] = add_user(conn, name)
    made = {
        "everything": add_filter(engine, settings, users["alice"], name="everything",
                                 sql=EVERYTHING, trigger="alert"),
        "bright": add_filter(engine, settings, users["alice"], name="bright", sql=BRIGHT,
                             trigger="alert"),
        "secret": add_filter(engine, settings, users["bob"], name="secret", sql=EVERYTHING,
                             trigger="alert"),
        "shared": add_filter(engine, settings, users["bob"], name="shared", sql=EVERYTHING,
                             trigger="none", public=True),
    }
    totals = ingest_files(settings, [RUBIN], progress=False, engine=engine)
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    assert totals.ingested == len(alerts) == 7
    night = {a.diaSourceId: night_of(a.diaSource["midpointMjdTai"]) for a in alerts}
    live: dict[str, Counter] = {}
    live_keys: dict[str, dict[str, set[int]]] = {}
    live_bytes: dict[str, Counter] = {}
    for name in ("everything", "bright"):
        records = [m for m in read_topic(kafka_bootstrap, made[name].topic)
                   if dict(m.headers())["reason"] == b"alert"]
        assert records, name
        per_night = [night[int(dict(m.headers())["diaSourceId"])] for m in records]
        live[name] = Counter(per_night)
        live_keys[name], live_bytes[name] = {}, Counter()
        for n, m in zip(per_night, records, strict=True):
            live_keys[name].setdefault(n, set()).add(int(m.key()))
            live_bytes[name][n] += len(m.value())
    app = make_api_app(settings, engine)
    client = TestClient(app)
    yield World(settings, engine, app, client, tokens, users, made, live, live_keys, live_bytes,
                Counter(night.values()))
    client.close()
    engine.dispose()


def test_a_backtest_counts_what_the_live_ingest_produced(world):
    alerts = world.alerts
    assert sorted(alerts) == ["2025-09-05", "2025-10-12"]  # the data span two nights
    for name in ("everything", "bright"):
        r = world.post(f"/api/filters/{world.filters[name].id}/backtest/")
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["mode"] == "backtest" and report["filter"] == name
        assert report["topic"] == world.filters[name].topic
        nights = {n["night"]: n for n in report["nights"]}
        assert list(nights) == sorted(alerts)  # the newest 7 nights: both, oldest first
        for night, n in nights.items():
            assert n["alerts"] == alerts[night]
            assert n["records"] == world.live[name][night], (name, night)
            assert n["bytes"] == world.live_bytes[name][night], (name, night)
            assert set(n["first"]) <= world.live_keys[name].get(night, set())
            assert len(n["first"]) == min(5, n["records"])
            assert n["match_fraction"] == round(n["records"] / n["alerts"], 6)
            assert n["problems"] == [] and n["duplicates"] == 0
            assert 0 < n["filter_s_p50"] <= n["filter_s_p99"]
        assert report["records"] == sum(world.live[name].values())
        assert report["alerts"] == sum(alerts.values()) == 7
        assert report["bytes"] == sum(n["bytes"] for n in report["nights"]) > 0
    # matches every alert with an object: over the limit; the bright one matches fewer
    everything = world.post(f"/api/filters/{world.filters['everything'].id}/backtest/").json()
    assert everything["records"] == 6  # one of the 7 alerts has no diaObjectId
    assert everything["flood_warning"] == ("over the archived night 2025-09-05, it matched 5 of "
                                           "6 alerts (83.3%; the limit is 5.0%): it may flood "
                                           "its topic")


def test_an_unsaved_edit_is_backtested_and_not_saved(world):
    fid = world.filters["bright"].id
    r = world.post(f"/api/filters/{fid}/backtest/", sql=NOTHING, nights="1")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["sql"] == NOTHING
    assert [(n["night"], n["alerts"], n["records"], n["first"]) for n in report["nights"]] == [
        ("2025-10-12", 1, 0, [])]
    assert report["flood_warning"] is None
    # Lasair's parts work as well, and a JSON body; the saved filter did not change
    r = world.client.post(f"/api/filters/{fid}/backtest/",
                          headers={"Authorization": f"Token {world.tokens['alice']}"},
                          json={"selected": "objects.diaObjectId", "tables": "objects",
                                "conditions": "", "from": "2025-09-05", "to": "2025-09-05"})
    assert r.status_code == 200, r.text
    assert [(n["night"], n["records"]) for n in r.json()["nights"]] == [("2025-09-05", 5)]
    saved = world.client.get(f"/api/filters/{fid}/",
                             headers={"Authorization": f"Token {world.tokens['alice']}"})
    assert saved.json()["sql"] == BRIGHT


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"nights": "0"}, 400, "nights must be at least 1"),
    ({"nights": "many"}, 400, "nights must be a whole number"),
    ({"nights": "2", "from": "2025-09-05", "to": "2025-09-05"}, 400, "either nights or from"),
    ({"from": "2025-09-05"}, 400, "to is required"),
    ({"from": "05/09/2025", "to": "2025-09-05"}, 400, "from must be a date, YYYY-MM-DD"),
    ({"from": "2025-09-06", "to": "2025-09-05"}, 400, "is before from"),
    ({"from": "2024-01-01", "to": "2024-01-03"}, 400,
     "the archive holds none of the nights asked for (2024-01-01..2024-01-03); it holds "
     "2025-09-05..2025-10-12"),
    ({"sql": "SELECT objects.diaObjectId FROM objects, users"}, 400,
     "table 'users' is not allowed"),
    ({"sql": "SELECT objects.nope FROM objects"}, 400, "column 'objects.nope' does not exist"),
    ({"output": "carrier pigeon"}, 400, "output must be one of"),
    ({"colour": "red"}, 400, "unknown field(s): colour"),
])
def test_bad_input_is_400_with_the_reason(world, data, status, message):
    r = world.post(f"/api/filters/{world.filters['bright'].id}/backtest/", **data)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_the_lasair_client_posts_a_backtest_as_a_form(world):
    """Lasair's client, unchanged, over HTTP: its generic call posts a form with token auth."""
    from lasair import LasairError, lasair_client

    from api_world import serve

    fid = world.filters["bright"].id
    with serve(world.app) as url:
        client = lasair_client(world.tokens["alice"], endpoint=url + "/api")
        report = client.fetch_from_server(f"filters/{fid}/backtest", {"nights": 2})
        with pytest.raises(LasairError, match=r"Bad Request:.*nights must be at least 1"):
            client.fetch_from_server(f"filters/{fid}/backtest", {"nights": 0})
    assert [(n["night"], n["records"]) for n in report["nights"]] == [
        (night, world.live["bright"][night]) for night in sorted(world.alerts)]
    assert report["mode"] == "backtest" and "flood_warning" in report


def test_openapi_documents_both_routes(world):
    paths = world.client.get("/openapi.json").json()["paths"]
    for action, fields in (("backtest", {"sql", "selected", "output", "nights", "from", "to"}),
                           ("replay", {"from", "to", "topic", "wait"})):
        post = paths[f"/api/filters/{{filter_id}}/{action}/"]["post"]
        form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        assert fields <= set(form["properties"])
    assert "get" in paths["/api/filters/{filter_id}/replay/{job_id}/"]


def test_an_empty_archive_is_400(world):
    from fastapi.testclient import TestClient

    from skysift.config import replace
    from skysift.web.api.testing import make_api_app

    empty = replace(world.settings, data_dir=world.settings.data_dir.parent / "empty")
    with TestClient(make_api_app(empty, world.engine)) as client:
        r = client.post(f"/api/filters/{world.filters['bright'].id}/backtest/",
                        headers={"Authorization": f"Token {world.tokens['alice']}"})
    assert r.status_code == 400
    assert r.json()["error"].startswith("the archive holds no night yet")


def test_only_the_owner_backtests_or_replays(world):
    secret, shared = world.filters["secret"].id, world.filters["shared"].id
    for action in ("backtest", "replay"):
        data = {"from": "2025-09-05", "to": "2025-10-12"}
        r = world.post(f"/api/filters/{secret}/{action}/", **data)
        assert r.status_code == 404 and r.json() == {"error": f"no filter {secret} of yours or "
                                                              "public"}
        r = world.post(f"/api/filters/{shared}/{action}/", **data)
        assert r.status_code == 403
        assert r.json()["error"] == f"only its owner can {action} a filter"
        assert world.post(f"/api/filters/999999/{action}/", **data).status_code == 404
        assert world.client.post(f"/api/filters/{secret}/{action}/", data=data).status_code == 401
    assert world.post(f"/api/filters/{secret}/backtest/", who="bob").status_code == 200


def test_replay_produces_the_live_records_into_a_topic_of_the_owner(world, topic_reader):
    alice, bob = world.users["alice"], world.users["bob"]
    flt = world.filters["everything"]
    topic = f"{flt.topic}.again"
    r = world.post(f"/api/filters/{flt.id}/replay/", **{"from": "2025-09-05",
                                                          "to": "2025-10-12", "topic": topic})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["mode"], report["topic"], report["undelivered"]) == ("replay", topic, 0)
    assert {n["night"]: n["records"] for n in report["nights"]} == dict(world.live["everything"])
    records = topic_reader(topic, expect=report["records"])
    assert len(records) == report["records"] == 6
    assert all(dict(m.headers())["reason"] == b"replay" for m in records)
    keys = {int(m.key()) for m in records}
    assert keys == set().union(*world.live_keys["everything"].values())
    assert sum(len(m.value()) for m in records) == report["bytes"]
    assert all(json.loads(m.value())["diaObjectId"] == int(m.key()) for m in records)

    # topics that are not this filter's are refused, saying why; nothing is produced. A user
    # whose id starts with alice's has topics that start with alice's prefix (lasair_1 + 0theirs
    # is lasair_10 + theirs): a prefix would not do, a name after the filter's topic does
    from skysift.accounts import add_user
    from skysift.filters.manage import add_filter

    other = None
    with world.engine.begin() as conn:
        while other is None or not str(other.id).startswith(str(alice.id)):
            other, _ = add_user(conn, f"user{other.id + 1 if other else 0}")
    theirs = add_filter(world.engine, world.settings, other, name="theirs", sql=NOTHING)
    assert theirs.topic.startswith(f"lasair_{alice.id}")
    refused = {
        theirs.topic: (403, "is not a topic of this filter's"),
        f"{theirs.topic}.x": (403, "is not a topic of this filter's"),
        world.filters["secret"].topic: (403, "is not a topic of this filter's"),
        f"lasair_{bob.id}mine_now": (403, "is not a topic of this filter's"),
        f"lasair_{alice.id}everything_again": (403, "is not a topic of this filter's"),
        "ztf_alerts": (403, "is not a topic of this filter's"),
        f"{flt.topic}.": (403, "is not a topic of this filter's"),
        f"{flt.topic}.bad name!": (400, "topic must be at most 249 of the characters"),
    }
    for name, (status, why) in refused.items():
        r = world.post(f"/api/filters/{flt.id}/replay/", **{"from": "2025-09-05",
                                                              "to": "2025-10-12",
                                                              "topic": name})
        assert r.status_code == status, (name, r.text)
        assert why in r.json()["error"]
        if status == 403:
            assert (f"a replay writes only into the filter's own topic ({flt.topic}) or a topic "
                    f"named after it, {flt.topic}.<name>") in r.json()["error"]
    assert len(topic_reader(world.filters["secret"].topic)) == 6  # bob's: only its live records
    r = world.post(f"/api/filters/{flt.id}/replay/", to="2025-10-12")
    assert r.status_code == 400 and r.json()["error"] == "from is required"


def test_saving_an_active_filter_warns_when_it_would_flood(world):
    headers = {"Authorization": f"Token {world.tokens['alice']}"}
    created = world.client.post("/api/filters/", headers=headers, data={
        "name": "all of it", "sql": EVERYTHING, "trigger": "alert"})
    assert created.status_code == 201, created.text
    # the newest archived night holds one alert, and the filter matches it
    assert created.json()["warning"] == FLOOD.format(night="2025-10-12", n=1)

    quiet = world.client.post("/api/filters/", headers=headers, data={
        "name": "none of it", "sql": NOTHING, "trigger": "both"})
    assert quiet.status_code == 201 and "warning" not in quiet.json()
    idle = world.client.post("/api/filters/", headers=headers, data={
        "name": "idle", "sql": EVERYTHING, "trigger": "none"})
    assert idle.status_code == 201 and "warning" not in idle.json()

    # an edit is checked as a save: to match everything warns, back to nothing does not
    r = world.client.patch(f"/api/filters/{quiet.json()['id']}/", headers=headers,
                           json={"sql": EVERYTHING})
    assert r.status_code == 200 and r.json()["warning"] == FLOOD.format(night="2025-10-12", n=1)
    r = world.client.put(f"/api/filters/{quiet.json()['id']}/", headers=headers,
                         json={"sql": NOTHING})
    assert r.status_code == 200 and "warning" not in r.json()


def test_no_archive_no_warning(world):
    """An archive with no night: the save goes through, silently."""
    from fastapi.testclient import TestClient

    from skysift.config import replace
    from skysift.web.api.testing import make_api_app

    empty = replace(world.settings, data_dir=world.settings.data_dir.parent / "empty2")
    with TestClient(make_api_app(empty, world.engine)) as client:
        r = client.post("/api/filters/", headers={"Authorization": f"Token {world.tokens['bob']}"},
                        data={"name": "flood", "sql": EVERYTHING, "trigger": "alert"})
    assert r.status_code == 201, r.text
    assert "warning" not in r.json()


# ------------------------------------------------------------------ replays in the background
BOTH = {"from": "2025-09-05", "to": "2025-10-12"}
TIMINGS = {"seconds", "alerts_per_s", "filter_s_p50", "filter_s_p99", "topic", "undelivered"}




def _until_over(world: World, url: str, who: str = "alice", timeout: float = 60.0) -> dict:
    """Poll a replay job until it is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        r = world.get(url, who)
        assert r.status_code == 200, r.text
        job = r.json()
        if job["state"] != "running":
            return job
        assert time.monotonic() < deadline, f"the replay still runs: {job}"
        time.sleep(0.05)


def _untimed(report: dict) -> dict:
    """A report without what differs from run to run (times) or by design (the topic)."""
    out = {k: v for k, v in report.items() if k not in TIMINGS}
    out["nights"] = [{k: v for k, v in n.items() if k not in TIMINGS} for n in report["nights"]]
    return out


def test_a_replay_with_wait_false_runs_in_the_background(world, topic_reader):
    flt = world.filters["everything"]
    sync = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, topic=f"{flt.topic}.sync")
    assert sync.status_code == 200, sync.text
    topic = f"{flt.topic}.background"
    r = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, topic=topic, wait="false")
    assert r.status_code == 202, r.text
    started = r.json()
    url = f"/api/filters/{flt.id}/replay/{started['job']}/"
    assert started["status_url"] == r.headers["location"] == url
    assert (started["filter"], started["topic"], started["from"], started["to"]) == (
        flt.id, topic, *BOTH.values())
    assert started["nights"] == sorted(world.alerts)
    assert (started["nights_total"], started["alerts_total"]) == (2, 7)

    job = _until_over(world, url)
    assert job["state"] == "done" and job["error"] is None, job
    assert job["nights_done"] == job["nights_total"] == 2 and job["night"] is None
    assert job["alerts_done"] == job["alerts_total"] == job["report"]["alerts"] == 7
    assert job["records"] == job["report"]["records"] == 6
    assert job["text"].startswith(f"Done: 7 of 7 alerts of 2 night(s) read, 6 records produced "
                                  f"into {topic} in ")
    # the report is the synchronous replay's, but for the times and the topic
    assert job["report"]["topic"] == topic and job["report"]["undelivered"] == 0
    assert _untimed(job["report"]) == _untimed(sync.json())
    records = topic_reader(topic, expect=6)
    assert len(records) == 6
    assert all(dict(m.headers())["reason"] == b"replay" for m in records)
    assert {int(m.key()) for m in records} == set().union(*world.live_keys["everything"].values())
    assert sum(len(m.value()) for m in records) == job["report"]["bytes"]

    # a JSON body works as well
    r = world.client.post(f"/api/filters/{flt.id}/replay/",
                          headers={"Authorization": f"Token {world.tokens['alice']}"},
                          json={**BOTH, "topic": f"{flt.topic}.json", "wait": False})
    assert r.status_code == 202, r.text
    again = _until_over(world, r.json()["status_url"])
    assert _untimed(again["report"]) == _untimed(job["report"])

    # the job is alice's: bob gets 404, whichever filter he names; so does an unknown job
    missing = f"no replay {started['job']} of yours for filter {flt.id} on this server"
    r = world.get(url, who="bob")
    assert r.status_code == 404 and r.json()["error"].startswith(missing)
    r = world.get(f"/api/filters/{world.filters['secret'].id}/replay/{started['job']}/", "bob")
    assert r.status_code == 404
    assert world.get(f"/api/filters/{world.filters['bright'].id}/replay/"
                     f"{started['job']}/").status_code == 404  # alice's, another filter
    assert world.get(f"/api/filters/{flt.id}/replay/0123456789abcdef/").status_code == 404
    assert world.client.get(url).status_code == 401
    r = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, wait="later")
    assert r.status_code == 400 and "wait must be true or false" in r.json()["error"]


def test_replays_beyond_the_limit_are_429(world, held, monkeypatch):
    from skysift.web import jobs

    monkeypatch.setattr(jobs, "MAX_RUNNING", 1)
    monkeypatch.setattr(jobs, "KEEP_FINISHED", 1)
    flt = world.filters["bright"]
    topic = f"{flt.topic}.held"
    r = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, topic=topic, wait="false")
    assert r.status_code == 202, r.text
    first = r.json()["status_url"]
    assert held.reached.wait(30)
    # held after the first night's batch: the progress of that batch, the next night to go
    job = world.get(first).json()
    assert (job["state"], job["night"], job["nights_done"], job["nights_total"]) == (
        "running", "2025-09-05", 0, 2)
    assert (job["alerts_done"], job["alerts_total"]) == (world.alerts["2025-09-05"], 7) == (6, 7)
    assert job["records"] == world.live["bright"]["2025-09-05"]
    assert job["report"] is None and job["finished"] is None
    assert job["text"].startswith(f"Replaying night 1 of 2 (2025-09-05): 6 of 7 alerts read, "
                                  f"{job['records']} record")

    # one more, in the background or not, by anyone: 429 saying why, and nothing starts
    full = ("1 replay already running on this server (at most 1 at once): try again when one "
            "is done")
    for who, fid, wait in (("alice", flt.id, "false"), ("alice", flt.id, "true"),
                           ("bob", world.filters["secret"].id, "false")):
        r = world.post(f"/api/filters/{fid}/replay/", who=who, **BOTH, wait=wait)
        assert r.status_code == 429, r.text
        assert r.json()["error"] == r.json()["detail"] == full
    assert jobs.JOBS.running() == 1
    # with room on the server: still one replay at a time per filter (each reads the day's
    # quota when it starts) and per user
    monkeypatch.setattr(jobs, "MAX_RUNNING", 2)
    r = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, wait="false")
    assert r.status_code == 429 and r.json()["error"] == (
        "a replay of this filter is running already: try again when it is done")
    r = world.post(f"/api/filters/{world.filters['everything'].id}/replay/", **BOTH,
                   wait="false")
    assert r.status_code == 429 and r.json()["error"] == (
        "a replay of yours is running already (one at a time per user): try again when it is "
        "done")
    assert jobs.JOBS.running() == 1
    monkeypatch.setattr(jobs, "MAX_RUNNING", 1)

    held.gate.set()
    job = _until_over(world, first)
    assert job["state"] == "done", job
    assert job["records"] == sum(world.live["bright"].values())
    assert job["alerts_done"] == job["alerts_total"] == job["report"]["alerts"] == 7

    # room again; with one finished job kept, the older one is forgotten
    r = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, topic=topic, wait="false")
    assert r.status_code == 202, r.text
    assert _until_over(world, r.json()["status_url"])["state"] == "done"
    deadline = time.monotonic() + 10
    while world.get(first).status_code != 404:
        assert time.monotonic() < deadline, "the older finished job was kept"
        time.sleep(0.05)


def test_a_saved_filter_whose_sql_no_longer_validates_is_400_before_any_job(world):
    """The saved SQL is compiled for its owner before a background replay starts: a filter that
    no longer validates (here its SQL changed under it in the store) answers 400 at once."""
    from skysift.store.schema import filters as filters_table
    from skysift.web import jobs

    flt = world.filters["bright"]
    with world.engine.begin() as conn:
        conn.execute(filters_table.update().where(filters_table.c.id == flt.id).values(
            sql="SELECT objects.nosuch FROM objects"))
    try:
        before = jobs.JOBS.running()
        for wait in ("false", "true"):
            r = world.post(f"/api/filters/{flt.id}/replay/", **BOTH, wait=wait)
            assert r.status_code == 400, r.text
            assert "objects.nosuch" in r.json()["error"]
        assert jobs.JOBS.running() == before
    finally:
        with world.engine.begin() as conn:
            conn.execute(filters_table.update().where(filters_table.c.id == flt.id).values(
                sql=flt.sql))
