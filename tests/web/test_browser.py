"""The web site in a real browser: Debian's chromium driven by Playwright, against a real
``skysift web`` server, the real embedded Kafka broker and a store of real Rubin alerts.

An astronomer signs up, writes a filter, runs it, saves it as a kafka-lite stream, reads the topic
name off the page, and the test consumes that topic; then the object page draws the light curve.
A screenshot of each page goes to test-artifacts/web/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from skysift.alerts.encode import encode_wire, load_wire_record

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
RUBIN = ROOT / "tests" / "data" / "rubin"
HISTORY_ALERT = "169298432598474793.avro"
N_DETECTIONS, N_FORCED = 12, 8


def _need_browser():
    """Playwright and chromium, or a skip (a failure in CI, where they must be there)."""
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {problem}")
        pytest.skip(problem)


def _with_history(path: Path, out_dir: Path) -> tuple[Path, int]:
    """A real alert given earlier detections in two bands and forced photometry."""
    rec, schema_id = load_wire_record(path)
    src = rec["diaSource"]
    prv = [dict(src, diaSourceId=src["diaSourceId"] + 1 + k, band="gr"[k % 2],
                midpointMjdTai=src["midpointMjdTai"] - 1.5 * (k + 1),
                psfFlux=src["psfFlux"] * (1 - 0.06 * k) * (0.8 if k % 2 else 1.0))
           for k in range(N_DETECTIONS)]
    forced = [{"diaForcedSourceId": src["diaSourceId"] + 100 + k,
               "diaObjectId": src["diaObjectId"], "ra": src["ra"], "dec": src["dec"],
               "visit": src["visit"], "detector": src["detector"],
               "psfFlux": src["psfFlux"] * 0.05 * (k % 3), "psfFluxErr": src["psfFluxErr"],
               "midpointMjdTai": src["midpointMjdTai"] - 1.5 * N_DETECTIONS - 2.0 * (k + 1),
               "band": "gr"[k % 2], "timeProcessedMjdTai": src["midpointMjdTai"]}
              for k in range(N_FORCED)]
    rec = dict(rec, prvDiaSources=prv, prvDiaForcedSources=forced)
    out = out_dir / path.name
    out.write_bytes(encode_wire(rec, schema_id // 100, schema_id % 100))
    return out, int(src["diaObjectId"])


def _start_server(data_dir: Path, bootstrap: str, log: Path) -> tuple[subprocess.Popen, str]:
    from skysift.streams.embedded import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "skysift", "--data-dir", str(data_dir), "--kafka", bootstrap,
         "web", "--port", str(port)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"skysift web exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise AssertionError(f"skysift web did not answer: {log.read_text()[-2000:]}")


def test_sign_up_write_run_save_consume_and_see_a_light_curve(
        make_settings, kafka_bootstrap, tmp_path, topic_reader):
    _need_browser()
    from playwright.sync_api import sync_playwright

    from skysift.accounts import add_user
    from skysift.ingest import ingest_files
    from skysift.store.database import open_store

    settings = make_settings(kafka=kafka_bootstrap)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_store(settings.database_url)
    night = tmp_path / "night"
    night.mkdir()
    for p in RUBIN.glob("*.avro"):
        if p.name != HISTORY_ALERT:
            (night / p.name).write_bytes(p.read_bytes())
    _, history_oid = _with_history(RUBIN / HISTORY_ALERT, night)
    assert ingest_files(settings, [night], progress=False, engine=engine).ingested == 7
    with engine.begin() as conn:
        _, admin_token = add_user(conn, "root", None, is_admin=True)
    engine.dispose()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc, base = _start_server(settings.data_dir, kafka_bootstrap, tmp_path / "web.log")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 860})
            page.set_default_timeout(20_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

            page.goto(base + "/")
            assert page.locator(".card .big").first.inner_text() == "7"
            shot("01-home")

            page.click("a.button:has-text('Sign up')")
            page.fill("input[name=name]", "vera")
            page.fill("input[name=email]", "vera@example.org")
            page.fill("input[name=password]", "a-long-password")
            page.fill("input[name=password2]", "a-long-password")
            shot("02-signup")
            page.click("form.stack button[type=submit]")
            assert re.fullmatch(r"[0-9a-f]{40}", page.inner_text("#api-token"))
            user_id = int(page.inner_text("#user-id"))
            shot("03-profile")

            page.click("header >> text=Filters")
            page.click("text=New filter")
            page.fill("#selected", "objects.diaObjectId, objects.ra, objects.decl, "
                                   "objects.nDiaSources")
            page.fill("#conditions", "objects.nDiaSources >= 1 "
                                     "ORDER BY objects.nDiaSources DESC")
            page.click("#run")
            rows = page.locator("#result-table tbody tr")
            assert rows.count() == 6  # six objects with an id (one alert has none)
            assert page.locator(f"a.objlink[href='/objects/{history_oid}']").count() == 1
            shot("04-editor-run")

            page.fill("#conditions", "objects.nDiaSources >= 1 AND nope > 1")
            page.click("#run")
            assert "In the WHERE box" in page.inner_text("#sql-error")
            shot("05-editor-error")
            page.fill("#conditions", "objects.nDiaSources >= 1")

            assert not page.is_visible("#name")  # "Save" asks for the settings
            page.click("#save-open")
            page.fill("#name", "Lots of detections")
            page.fill("textarea[name=description]",
                      "Objects detected at least once, with light curve")
            page.check("input[name=trigger][value=alert]")
            page.check("input[name=output][value=lite]")
            shot("06-editor-save-settings")
            page.click("#save")
            page.wait_for_url(re.compile(r".*/filters/\d+$"))
            topic = page.inner_text("#topic-name").strip()
            assert topic == f"lasair_{user_id}Lotsofdetections"
            assert f"my_topic = '{topic}'" in page.inner_text("#consumer-code")
            shot("07-filter")

            records = [json.loads(m.value()) for m in topic_reader(topic, expect=6)]
            assert len(records) == 6
            assert {r["diaObjectId"] for r in records} >= {history_oid}
            assert all(set(r["alert"]) == {"diaSourcesList", "diaForcedSourcesList"}
                       for r in records)
            assert all(len(r["alert"]["diaSourcesList"]) >= 1 for r in records)
            rich = next(r for r in records if r["diaObjectId"] == history_oid)
            assert len(rich["alert"]["diaSourcesList"]) == N_DETECTIONS + 1  # and the alert itself
            assert len(rich["alert"]["diaForcedSourcesList"]) == N_FORCED

            page.goto(base + "/filters")
            shot("08-filters")
            page.click("header >> text=Schema")
            shot("09-schema")

            page.goto(base + "/")
            page.click("header >> text=Filters")
            page.click("text=Lots of detections")
            page.click("a.button:has-text('Run')")
            page.click(f"a.objlink[href='/objects/{history_oid}']")
            page.wait_for_selector("#lightcurve[data-rendered]")
            plotted = page.locator("#lightcurve .scatterlayer .trace .points path").count()
            assert plotted == N_DETECTIONS + 1 + N_FORCED
            series = json.loads(page.inner_text("#lc-data"))["series"]
            assert {s["kind"] for s in series} == {"detection", "forced"}
            assert {s["band"] for s in series} >= {"g", "r"}
            assert page.locator("#lightcurve .legend .traces").count() == len(series)
            assert page.locator("#sources tbody tr").count() == N_DETECTIONS + 1
            page.hover("#lightcurve .scatterlayer .trace .points path >> nth=0", force=True)
            shot("10-object")
            page.locator("#lightcurve").screenshot(path=str(ARTIFACTS / "10b-lightcurve.png"))
            # the magnitude view: every point with a positive flux, the axis reversed
            page.click("#lc-mode button[data-mode=mag]")
            page.wait_for_selector("#lightcurve[data-mode=mag]")
            with_mag = sum(1 for s in series for m in s["mag"] if m is not None)
            assert with_mag > 0
            assert page.locator("#lightcurve .scatterlayer .trace .points path").count() == with_mag
            assert page.locator("#lightcurve .ytitle").text_content() == "AB magnitude"
            page.locator("#lightcurve").screenshot(path=str(ARTIFACTS / "10c-lightcurve-mag.png"))

            ra, dec = re.search(r"RA ([-\d.e]+)°, Dec ([-\d.e]+)°",
                                page.inner_text(".lead")).groups()
            page.goto(base + "/search")
            page.fill("input[name=ra]", ra)
            page.fill("input[name=dec]", dec)
            page.click("form#cone button:has-text('Search')")
            page.wait_for_url(re.compile(r".*/search\?ra=.*"))
            assert page.locator(f"#cone-results a[href='/objects/{history_oid}']").count() == 1
            shot("11-search")

            page.click("header button:has-text('Log out')")
            page.goto(base + "/profile")
            assert "/login" in page.url
            shot("12-login")
            page.click("text=Set a password with your API token")
            page.fill("input[name=name]", "root")
            page.fill("input[name=token]", admin_token)
            page.fill("input[name=password]", "root-password")
            page.click("form.stack button[type=submit]")
            page.click("header >> text=Admin")
            assert page.locator("#users tbody tr").count() == 2
            shot("13-admin-users")
            page.goto(base + f"/filters/{topic}")
            assert page.locator("h1").inner_text() == "That did not work"
            shot("14-error")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
