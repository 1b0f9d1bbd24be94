"""``skysift serve``: the site and the ingest pipeline in one process, stopped cleanly by Ctrl-C;
the session key made once, mode 0600; secrets kept out of the logs."""

from __future__ import annotations

import logging
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"


def _home_count(base: str) -> int:
    with urllib.request.urlopen(base + "/", timeout=5) as resp:
        text = resp.read().decode()
    return int(re.search(r'<div class="big">([\d,]+)</div><div>alerts ingested in total',
                         text).group(1).replace(",", ""))


def test_serve_ingests_while_serving_and_stops_on_ctrl_c(tmp_path, kafka_bootstrap, unique_name):
    from confluent_kafka import Producer

    from skysift.alerts.publish import publish_files
    from skysift.streams.embedded import free_port

    port, topic = free_port(), unique_name("input")
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skysift", "--data-dir", str(tmp_path / "d"), "--kafka",
         kafka_bootstrap, "serve", "--port", str(port), "--input-topic", topic],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                assert _home_count(base) == 0
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        sent = publish_files(Producer({"bootstrap.servers": kafka_bootstrap}), topic, [RUBIN],
                             progress=False)
        deadline = time.monotonic() + 40
        while _home_count(base) < sent:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)  # ingest stops too: the process ends
        assert "ingest stopped: ingested 7" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_session_key_is_made_once_with_mode_0600(make_settings):
    from skysift.web.sessions import secret_path, session_secret

    settings = make_settings()
    key = session_secret(settings)
    path = secret_path(settings)
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(settings) == key  # kept, not remade


def test_tokens_and_passwords_never_reach_the_logs(browser, caplog):
    from skysift.web.app import RedactQueryFilter

    caplog.set_level(logging.DEBUG)
    b = browser()
    page = b.signup("logcheck", "p4ssword-in-clear").text
    token = b.token_on(page)
    b.submit("/login", {"name": "logcheck", "password": "another-wrong-one"}, form_page="/login")
    b.get(f"/api/cone/?ra=1&dec=1&radius=2&token={token}")
    # (the test client's own request log, httpx, is the caller's side, not the server's)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "failed login" in logged
    assert token not in logged and "p4ssword" not in logged and "another-wrong" not in logged
    # uvicorn's access log line, as uvicorn formats it, loses the token
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", f"/api/query/?token={token}&x=1", "1.1", 200),
                               None)
    RedactQueryFilter().filter(record)
    assert token not in record.getMessage() and "token=***&x=1" in record.getMessage()
