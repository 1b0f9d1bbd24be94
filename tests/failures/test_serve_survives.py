"""``skysift serve`` keeps ingesting across a PostgreSQL outage and a broker restart, says so on
``/health`` and the home page meanwhile, and counts it all in its Prometheus metrics."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from poison_corpus import good_alerts
from outage_tools import publish as _publish
from outage_tools import refused_connections
from outage_tools import stored as _stored
from outage_tools import topic as _topic

from kafka_reading import read_topic
from skysift.accounts import add_user
from skysift.filters.manage import add_filter
from skysift.store.database import open_store
from skysift.streams.embedded import EmbeddedBroker, free_port

SQL = "SELECT objects.diaObjectId, objects.ra FROM objects WHERE objects.decl < 90"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _health(base: str) -> tuple[int, dict]:
    status, text = _get(base + "/health")
    return status, json.loads(text)


def _until(what: str, predicate, timeout: float, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if predicate():
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s\n{log.read_text()}"
        time.sleep(0.5)


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.timeout(300)
def test_serve_keeps_ingesting_across_a_database_outage_and_a_broker_restart(
        pg_url, pg_admin, tmp_path, unique_name):
    kport, wport, mport = free_port(), free_port(), free_port()
    broker = EmbeddedBroker(port=kport, log_path=tmp_path / "tansu.log").start()
    proc = None
    log = tmp_path / "serve.log"
    try:
        from skysift.config import load_settings

        settings = load_settings(env={}, overrides={
            "data_dir": tmp_path / "d", "kafka": broker.bootstrap, "database": pg_url})
        engine = open_store(pg_url)
        with engine.begin() as conn:
            user, _ = add_user(conn, unique_name("u"))
        flt = add_filter(engine, settings, user, name="everything", sql=SQL, output="plain",
                         trigger="alert")
        topic = unique_name("input")
        env = dict(os.environ, SKYSIFT_BATCH_WAIT_S="0.3", SKYSIFT_BATCH_SIZE="20",
                   SKYSIFT_RETRY_BACKOFF_MAX_S="2", SKYSIFT_NOTIFY_INTERVAL_S="0")
        env.pop("SKYSIFT_CONFIG", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "skysift", "--data-dir", str(tmp_path / "d"), "--kafka",
             broker.bootstrap, "--database", pg_url, "serve", "--port", str(wport),
             "--input-topic", topic, "--metrics-port", str(mport)],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{wport}"
        alerts = good_alerts(60, 8_700_000_000)

        def ingested() -> int:
            return _health(base)[1]["ingest"][0]["alerts_ingested"]

        _until("the web site", lambda: _health(base)[0] == 200, 30, proc, log)
        # a quiet stream: once the group gave it the partition, the loop is running (it once
        # said "joining" until the first batch)
        _until("the ingest loop running before any alert", lambda: _health(base)[1]["ingest"][0]
               ["status"] == "running", 60, proc, log)
        assert ingested() == 0
        _publish(broker.bootstrap, topic, alerts[:20])
        _until("20 alerts ingested", lambda: ingested() == 20, 60, proc, log)

        # the database goes away: serve waits, /health says so
        with refused_connections(pg_admin, pg_url):
            _publish(broker.bootstrap, topic, alerts[20:40])
            _until("the ingest loop retrying", lambda: _health(base)[1]["ingest"][0]["status"]
                   == "retrying", 30, proc, log)
            status, body = _health(base)
            assert status == 503 and body["status"] == "down" and body["store"] == "unreachable"
            assert "database" in body["ingest"][0]["problem"]
            assert "127.0.0.1" not in json.dumps(body), "no host names for anonymous monitors"
            time.sleep(2)
        _until("40 alerts ingested", lambda: ingested() == 40, 60, proc, log)
        assert _health(base)[1]["status"] == "ok"

        # the broker restarts, empty
        broker.stop()
        time.sleep(1)
        broker = EmbeddedBroker(port=kport, log_path=tmp_path / "tansu.log").start()
        _topic(broker.bootstrap, topic)
        _publish(broker.bootstrap, topic, alerts[40:])
        _until("60 alerts ingested", lambda: ingested() == 60, 90, proc, log)

        assert {oid for oid, _ in alerts} <= _stored(engine)
        records = read_topic(broker.bootstrap, flt.topic, expect=20)
        assert sorted(int(m.key()) for m in records) == sorted(oid for oid, _ in alerts[40:])
        status, page = _get(base + "/")
        assert status == 200 and 'id="ingest-state"' in page and ">running<" in page
        _, metrics = _get(f"http://127.0.0.1:{mport}/metrics")
        assert _metric(metrics, "skysift_messages_total", loop="alerts", outcome="ingested") == 60
        assert _metric(metrics, "skysift_batch_failures_total", loop="alerts",
                       kind="transient") >= 1
        assert _metric(metrics, "skysift_worker_retrying", loop="alerts") == 0
        assert _metric(metrics, "skysift_batch_stage_seconds_count", loop="alerts",
                       stage="store") >= 3

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) in (0, 130), log.read_text()  # 130: ended by SIGINT
        text = log.read_text()
        assert "recovered after" in text
        assert "came back without" in text
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT sum(alerts_ingested) FROM ingest_stats")
                                ).scalar() == 60
        engine.dispose()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        broker.stop()
