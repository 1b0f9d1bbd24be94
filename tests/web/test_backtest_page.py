"""The editor's Backtest, the filter page's Replay and the flood warning after a save, on the web
site: the real Rubin alerts ingested through the live pipeline (which archives them), the
embedded Kafka broker, and one test in a real browser (Debian's chromium, Playwright).

One site per module (a SQLite store; tests/web_api/test_backtest_api.py holds the backtest to
the live topics): the ingest is made once. The conftest's ``browser`` clients run on it, through
the ``app`` fixture below.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = pytest.mark.kafka

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
EVERYTHING = {"selected": "objects.diaObjectId", "tables": "objects", "conditions": ""}
NOTHING = {"selected": "objects.diaObjectId", "tables": "objects",
           "conditions": "objects.latest_psfFlux > 1e30"}
NIGHTS = ("2025-09-05", "2025-10-12")


@pytest.fixture(scope="module")
def site(tmp_path_factory, kafka_bootstrap):
    from skysift.alerts.files import iter_alert_files, read_alerts
    from skysift.archive import night_of
    from skysift.config import load_settings
    from skysift.ingest import ingest_files
    from skysift.store.database import open_store
    from skysift.web.app import create_app

    folder = tmp_path_factory.mktemp("backtest-web")
    settings = load_settings(env={}, overrides={
        "data_dir": folder / "data", "kafka": kafka_bootstrap,
        "database": f"sqlite:///{folder / 'store.db'}", "filter_run_rate_limit": 10_000,
        "filter_save_rate_limit": 10_000})
    settings.data_dir.mkdir(parents=True)
    engine = open_store(settings.database_url)
    assert ingest_files(settings, [RUBIN], progress=False, engine=engine).ingested == 7
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    by_night: dict[str, list] = {}
    for a in alerts:
        by_night.setdefault(night_of(a.diaSource["midpointMjdTai"]), []).append(a)
    assert sorted(by_night) == list(NIGHTS)
    # what the editor's SQL EVERYTHING matches: each alert of an object (one alert has none)
    expected = {n: {"alerts": len(v),
                    "objects": sorted({a.diaObjectId for a in v if a.diaObjectId is not None})}
                for n, v in by_night.items()}
    yield SimpleNamespace(settings=settings, engine=engine, app=create_app(settings, engine),
                          expected=expected)
    engine.dispose()


@pytest.fixture
def app(site):
    """The module's site, for the conftest's ``browser`` clients."""
    return site.app


def _user(browser, unique_name, prefix: str):
    b = browser()
    name = unique_name(prefix).replace("-", "_")
    b.signup(name)
    return b, name


def _night_rows(text: str) -> dict[str, list[str]]:
    """The backtest table's cells, per night."""
    table = re.search(r'<table class="data" id="backtest-table">(.*?)</table>', text, re.S)
    assert table, "no backtest table"
    rows = re.findall(r'<tr data-night="([\d-]+)">(.*?)</tr>', table.group(1), re.S)
    return {night: [re.sub(r"<[^>]+>", "", c).strip()
                    for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
            for night, cells in rows}


def test_the_editor_backtests_the_unsaved_sql(browser, unique_name, site):
    b, _ = _user(browser, unique_name, "bt")
    r = b.submit("/filters/new", {**EVERYTHING, "action": "backtest", "nights": "7",
                                  "output": "plain"}, form_page="/filters/new")
    assert r.status_code == 200, r.text
    rows = _night_rows(r.text)
    assert list(rows) == list(NIGHTS)
    for night, cells in rows.items():
        want = site.expected[night]
        assert cells[:3] == [night, str(want["alerts"]), str(len(want["objects"]))]
        assert cells[3] == f"{100 * len(want['objects']) / want['alerts']:.2f}%"
        links = re.findall(r'<a class="objlink" href="/objects/(\d+)">',
                           r.text.split(f'data-night="{night}"')[1].split("</tr>")[0])
        assert [int(x) for x in links] and set(map(int, links)) <= set(want["objects"])
    text = html.unescape(r.text)
    assert 'id="backtest-chart"' in text and 'id="bt-data"' in text
    assert "over the archived night 2025-09-05, it matched 5 of 6 alerts (83.3%" in text
    assert '<script src="/static/backtest.js"></script>' in text
    assert b.get("/static/backtest.js").status_code == 200
    # nothing was saved; the editor keeps what was typed
    assert 'name="nights" id="nights"' in text and 'value="7"' in text

    # the newest night only, SQL that matches nothing: a row of zeros, no warning
    r = b.submit("/filters/new", {**NOTHING, "action": "backtest", "nights": "1"},
                 form_page="/filters/new")
    assert r.status_code == 200
    rows = _night_rows(r.text)
    assert list(rows) == ["2025-10-12"]
    assert rows["2025-10-12"][:5] == ["2025-10-12", "1", "0", "0.00%", "0"]
    assert rows["2025-10-12"][7] == ""  # no first matches
    assert "flood-warning" not in r.text


@pytest.mark.parametrize(("data", "message"), [
    ({**EVERYTHING, "nights": "0"}, "nights must be between 1 and 366, not 0"),
    ({**EVERYTHING, "nights": "lots"}, "nights must be a whole number"),
    ({**EVERYTHING, "selected": "objects.nope"}, "column 'objects.nope' does not exist"),
])
def test_bad_backtests_say_why_beside_the_sql(browser, unique_name, data, message):
    b, _ = _user(browser, unique_name, "bad")
    r = b.submit("/filters/new", {**data, "action": "backtest"}, form_page="/filters/new")
    assert r.status_code == 400
    assert message in html.unescape(r.text)
    assert 'id="backtest"' not in r.text


def test_an_empty_archive_says_so(browser, unique_name, site, tmp_path):
    from skysift.config import replace
    from skysift.web.app import create_app

    empty = replace(site.settings, data_dir=tmp_path / "empty")
    empty.data_dir.mkdir()
    b = type(browser())(create_app(empty, site.engine))  # the conftest's Browser, another site
    b.signup(unique_name("empty").replace("-", "_"))
    r = b.submit("/filters/new", {**EVERYTHING, "action": "backtest"}, form_page="/filters/new")
    assert r.status_code == 400
    assert "the archive holds no night yet" in r.text
    b.client.close()


def _save(b, sql: dict, name: str, trigger: str = "alert") -> tuple[int, str]:
    r = b.submit("/filters/new", {**sql, "action": "save", "name": name, "trigger": trigger,
                                  "output": "plain"}, form_page="/filters/new")
    assert r.status_code == 303, r.text
    fid = int(r.headers["location"].rsplit("/", 1)[1])
    return fid, html.unescape(b.get(f"/filters/{fid}").text)


def test_saving_an_active_filter_that_would_flood_warns(browser, unique_name):
    b, _ = _user(browser, unique_name, "save")
    _, page = _save(b, EVERYTHING, "everything")
    assert ('<p class="flash warn">Warning: over the archived night 2025-10-12, it matched 1 of 1 '
            "alerts (100.0%; the limit is 5.0%): it may flood its topic. Check its SQL with "
            "Backtest in the editor.</p>") in page
    _, page = _save(b, NOTHING, "nothing")
    assert "may flood" not in page and "Created filter nothing" in page
    _, page = _save(b, EVERYTHING, "idle", trigger="none")
    assert "may flood" not in page
    # an edit through the editor is checked as well
    fid, _ = _save(b, NOTHING, "later")
    r = b.submit(f"/filters/{fid}/edit", {**EVERYTHING, "action": "save", "name": "later",
                                          "trigger": "both", "output": "plain"},
                 form_page=f"/filters/{fid}/edit")
    assert r.status_code == 303
    assert "it may flood its topic" in html.unescape(b.get(f"/filters/{fid}").text)




JSON = {"Accept": "application/json"}


def _started(r, fid: int) -> tuple[str, str]:
    """The filter page a Replay redirected to, and its job's JSON address."""
    assert r.status_code == 303, r.text
    m = re.fullmatch(rf"/filters/{fid}\?replay=([0-9a-f]{{16}})#replay-job", r.headers["location"])
    assert m, r.headers["location"]
    return r.headers["location"].split("#")[0], f"/filters/{fid}/replays/{m.group(1)}"


def _until_over(b, status: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = b.get(status, headers=JSON)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        job = r.json()
        if job["state"] != "running":
            return job
        assert time.monotonic() < deadline, f"the replay still runs: {job}"
        time.sleep(0.05)


def test_replay_from_the_filter_page(browser, unique_name, site, topic_reader):
    b, _ = _user(browser, unique_name, "rp")
    fid, page = _save(b, EVERYTHING, "replayed", trigger="none")
    assert 'id="replay-form"' in page and 'id="replay-job"' not in page
    topic = re.search(r'id="topic-name">([^<]+)<', page).group(1)
    r = b.submit(f"/filters/{fid}/replay", {"from": NIGHTS[0], "to": NIGHTS[1]},
                 form_page=f"/filters/{fid}")
    shown, status = _started(r, fid)
    job = _until_over(b, status)
    alerts = sum(site.expected[n]["alerts"] for n in NIGHTS)
    objects = sum(len(site.expected[n]["objects"]) for n in NIGHTS)
    assert job["state"] == "done" and job["error"] is None, job
    assert (job["topic"], job["nights"], job["nights_done"]) == (topic, list(NIGHTS), 2)
    assert job["alerts_done"] == job["alerts_total"] == job["report"]["alerts"] == alerts
    assert job["records"] == job["report"]["records"] == objects

    # the page of the job: the full bar, then the report
    r = b.get(shown)
    assert r.status_code == 200, r.text
    text = html.unescape(r.text)
    assert '<section class="results" id="replay-job" data-state="done"' in text
    assert f'<progress id="replay-progress" max="{alerts}" value="{alerts}"' in text
    assert (f"Done: {alerts} of {alerts} alerts of 2 night(s) read, {objects} records produced "
            f"into {topic} in ") in text
    assert "/static/replay.js" not in text  # nothing to poll any more
    assert f'value="{NIGHTS[0]}"' in text and f'value="{NIGHTS[1]}"' in text  # the form as asked
    assert f"Replay into <code>{topic}</code>" in text
    rows = _night_rows(r.text)
    assert {n: int(c[2]) for n, c in rows.items()} == {
        n: len(site.expected[n]["objects"]) for n in NIGHTS}
    records = topic_reader(topic)  # the records seeded when it was saved, then the replay's
    replayed = [m for m in records if dict(m.headers())["reason"] == b"replay"]
    assert sorted(int(m.key()) for m in replayed) == sorted(
        o for n in NIGHTS for o in site.expected[n]["objects"])

    # a topic that is not the user's: 403, the reason under the form, the form kept
    r = b.submit(f"/filters/{fid}/replay", {"from": NIGHTS[0], "to": NIGHTS[1],
                                            "topic": "someone_elses"},
                 form_page=f"/filters/{fid}")
    assert r.status_code == 403
    assert re.search(r'id="replay-error" role="alert">someone_elses is not a topic of this filter',
                     r.text)
    assert 'value="someone_elses"' in r.text
    r = b.submit(f"/filters/{fid}/replay", {"from": "2020-01-01", "to": "2020-01-02"},
                 form_page=f"/filters/{fid}")
    assert r.status_code == 400 and "the archive holds none of the nights" in r.text
    assert b.get(f"/filters/{fid}/replays/0123456789abcdef", headers=JSON).status_code == 404
    # the filter's page with a replay this process does not know (restarted, another web
    # process, forgotten): the page, saying so
    r = b.get(f"/filters/{fid}?replay=0123456789abcdef")
    assert r.status_code == 200
    assert re.search(r'id="replay-error" role="alert">no replay 0123456789abcdef of yours for '
                     r"filter \d+ on this server", html.unescape(r.text))

    # another user sees no Replay form, and may not post one, nor see the job
    other, _ = _user(browser, unique_name, "other")
    assert other.get(f"/filters/{fid}").status_code == 404  # private
    r = other.submit(f"/filters/{fid}/replay", {"from": NIGHTS[0], "to": NIGHTS[1]})
    assert r.status_code == 404
    r = other.get(status, headers=JSON)
    assert r.status_code == 404 and r.json()["error"].startswith("no replay ")
    assert other.get(shown).status_code == 404
    b.client.cookies.clear()  # logged out: the poll is 401
    assert b.get(status, headers=JSON).status_code == 401


def test_a_running_replay_shows_a_progress_bar_and_one_more_is_429(browser, unique_name, site,
                                                                   held, monkeypatch):
    from skysift.web import jobs

    monkeypatch.setattr(jobs, "MAX_RUNNING", 1)
    b, _ = _user(browser, unique_name, "held")
    fid, page = _save(b, EVERYTHING, "held", trigger="none")
    topic = re.search(r'id="topic-name">([^<]+)<', page).group(1) + ".held"
    asked = {"from": NIGHTS[0], "to": NIGHTS[1], "topic": topic}
    shown, status = _started(b.submit(f"/filters/{fid}/replay", asked,
                                      form_page=f"/filters/{fid}"), fid)
    assert held.reached.wait(30)
    first = site.expected[NIGHTS[0]]
    r = b.get(shown)
    assert r.status_code == 200
    text = html.unescape(r.text)
    assert (f'<section class="results" id="replay-job" data-state="running" '
            f'data-status="{status}">') in text
    assert f"<h2>Replaying into <code>{topic}</code></h2>" in text
    assert f'<progress id="replay-progress" max="7" value="{first["alerts"]}"' in text
    assert (f"Replaying night 1 of 2 ({NIGHTS[0]}): {first['alerts']} of 7 alerts read, "
            f"{len(first['objects'])} records produced") in text
    assert "<noscript><p class=\"hint\">Reload this page" in text
    assert '<script src="/static/replay.js"></script>' in text
    assert b.get("/static/replay.js").status_code == 200
    assert 'id="backtest-table"' not in text
    assert f'value="{topic}"' in text

    # one more while it runs: 429, saying why, under the form
    r = b.submit(f"/filters/{fid}/replay", asked, form_page=f"/filters/{fid}")
    assert r.status_code == 429
    assert ('id="replay-error" role="alert">1 replay already running on this server (at most 1 '
            "at once): try again when one is done") in r.text

    held.gate.set()
    job = _until_over(b, status)
    assert job["state"] == "done" and job["records"] == 6
    text = html.unescape(b.get(shown).text)
    assert 'data-state="done"' in text and 'id="backtest-table"' in text
    assert "/static/replay.js" not in text


def test_backtest_in_a_real_browser(unique_name, site, held):
    """Type SQL in the editor, click Backtest: the table and the bar chart of records per night.
    Then save it and Replay: the progress bar, held after the first night's batch and updated
    by the page's poll, then the report."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    from api_world import serve

    name = unique_name("vera").replace("-", "_")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve(site.app) as base, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(20_000)
        page.goto(base + "/signup")
        page.fill("input[name=name]", name)
        page.fill("input[name=email]", f"{name}@example.org")
        page.fill("input[name=password]", "a-long-password")
        page.fill("input[name=password2]", "a-long-password")
        page.click("form.stack button[type=submit]")
        page.wait_for_selector("#api-token")

        page.goto(base + "/filters/new")
        page.fill("#selected", EVERYTHING["selected"])
        page.fill("#conditions", "")
        page.fill("#nights", "7")
        page.click("#backtest-run")
        page.wait_for_selector("#backtest-table")
        rows = page.locator("#backtest-table tbody tr[data-night]")
        assert rows.count() == 2
        got = {rows.nth(i).locator("td").nth(0).inner_text():
               int(rows.nth(i).locator("td.records").inner_text()) for i in range(2)}
        assert got == {n: len(site.expected[n]["objects"]) for n in NIGHTS}
        assert page.is_visible("#flood-warning")
        # the chart: drawn by Plotly, one bar a night
        page.wait_for_selector("#backtest-chart[data-rendered='2']")
        assert page.locator("#backtest-chart .barlayer .point").count() == 2
        assert page.locator("#backtest-chart .xtick").count() == 2
        assert page.locator("#backtest-chart .xtick").all_text_contents() == list(NIGHTS)
        # the first matches link to the object pages
        first = page.locator("#backtest-table a.objlink").first
        oid = int(first.inner_text())
        assert oid in site.expected[NIGHTS[0]]["objects"]
        page.screenshot(path=str(ARTIFACTS / "15-editor-backtest.png"), full_page=True)
        first.click()
        page.wait_for_url(re.compile(rf".*/objects/{oid}$"))

        # save it, inactive, and replay both nights from its page
        page.go_back()
        page.click("#save-open")
        page.fill("#name", "replayed")
        page.check("input[name=trigger][value=none]")
        page.click("#save")
        page.wait_for_url(re.compile(r".*/filters/\d+$"))
        topic = page.inner_text("#topic-name").strip()
        page.fill("#replay-from", NIGHTS[0])
        page.fill("#replay-to", NIGHTS[1])
        page.click("#replay")
        page.wait_for_url(re.compile(r".*/filters/\d+\?replay=[0-9a-f]{16}"))
        assert held.reached.wait(30)
        first = site.expected[NIGHTS[0]]
        # the poll (static/replay.js) brings the bar to the first night's alerts
        page.wait_for_selector(f"#replay-job[data-alerts-done='{first['alerts']}']")
        bar = page.locator("progress#replay-progress")
        assert bar.evaluate("p => [p.value, p.max]") == [first["alerts"], 7]
        assert page.inner_text("#replay-progress-text").startswith(
            f"Replaying night 1 of 2 ({NIGHTS[0]}): {first['alerts']} of 7 alerts read, "
            f"{len(first['objects'])} records produced")
        assert page.locator("#backtest-table").count() == 0
        page.screenshot(path=str(ARTIFACTS / "16-filter-replay-progress.png"), full_page=True)
        held.gate.set()  # the page reloads itself when the job is over, and shows the report
        page.wait_for_selector("#backtest-chart[data-rendered='2']")
        assert page.get_attribute("#replay-job", "data-state") == "done"
        assert bar.evaluate("p => [p.value, p.max]") == [7, 7]
        assert page.inner_text("#backtest h2") == f"Replay into {topic}"
        assert page.locator("#backtest-table td.records").all_inner_texts() == [
            str(len(site.expected[n]["objects"])) for n in NIGHTS]
        page.screenshot(path=str(ARTIFACTS / "16-filter-replay.png"), full_page=True)
        chromium.close()
