"""listen, restart, echo and the daemon against the real embedded Kafka broker (Tansu)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from skysift.gcn import daemon
from skysift.gcn.echo import echo
from skysift.gcn.listen import listen
from skysift.gcn.settings import ensure_group_id, load_gcn_settings
from skysift.gcn.state import ListenerState


def wait_for(predicate, timeout: float = 60.0, what: str = "condition", log: Path | None = None):
    """Poll ``predicate`` until true (a liveness guard, not a speed test: generous deadlines,
    since the suite runs many Kafka tests on two cores). On failure, the message carries the
    tail of ``log`` (a daemon's log), so an intermittent failure says what the daemon did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    tail = ""
    if log is not None and Path(log).exists():
        tail = "\n--- daemon log (tail) ---\n" + "\n".join(Path(log).read_text().splitlines()[-40:])
    raise AssertionError(f"waited {timeout:.0f} s for {what}{tail}")


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def produce(bootstrap: str, topic: str, values: list[bytes], partition: int | None = None,
            timestamp_ms: int | None = None) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 8 * 1024 * 1024})
    for v in values:
        kw = {}
        if partition is not None:
            kw["partition"] = partition
        if timestamp_ms is not None:
            kw["timestamp"] = timestamp_ms
        p.produce(topic, v, **kw)
    assert p.flush(30) == 0


@pytest.fixture
def variants(notice_json):
    """variants(i): the real MS181101ab notice as a distinct alert i (its own time_created)."""
    base = notice_json("MS181101ab-earlywarning")

    def make(i: int) -> bytes:
        doc = dict(base)
        doc["time_created"] = f"2018-11-01T23:{i // 60:02d}:{i % 60:02d}Z"
        doc["alert_type"] = "UPDATE"
        return json.dumps(doc).encode()

    return make


def alert_dir(settings, i: int) -> Path:
    return (
        settings.download_dir
        / "mockevents"
        / "MS181101ab"
        / f"20181101T23{i // 60:02d}{i % 60:02d}_update"
    )


@pytest.fixture
def kafka_settings(gcn_settings, kafka_bootstrap, unique_name):
    def make(partitions: int = 1, **lvk):
        topic = unique_name("igwn.gwalert")
        create_topic(kafka_bootstrap, topic, partitions)
        return gcn_settings(lvk={"ascii_map": {"convert": False}, **lvk},
                            gcn_kafka={"topic": topic,
                                       "kafka": {"bootstrap.servers": kafka_bootstrap}})
    return make


def _run(settings, state_path):
    stop = threading.Event()
    state = ListenerState(state_path, os.getpid())
    thread = threading.Thread(target=listen, args=(settings,),
                              kwargs={"stop": stop, "state": state},
                              daemon=True)
    thread.start()
    wait_for(lambda: state.data.get("status") == "running", what="partition assignment")
    return stop, thread, state


def test_first_connection_starts_at_the_end_and_a_restart_loses_nothing(
    kafka_settings, kafka_bootstrap, variants, tmp_path
):
    s = kafka_settings()
    produce(kafka_bootstrap, s.topic, [variants(0)])  # before the first connection: not wanted
    stop, thread, state = _run(s, tmp_path / "state.json")
    stored = load_gcn_settings(s.path).group_id
    assert stored.startswith("skysift-")  # generated and written to the file in use
    produce(kafka_bootstrap, s.topic, [variants(1), variants(2)])
    wait_for(lambda: alert_dir(s, 2).exists(), what="alerts 1 and 2")
    stop.set()
    thread.join(30)
    assert alert_dir(s, 1).exists() and not alert_dir(s, 0).exists()

    # while the listener is down: two alerts and a malformed message
    produce(kafka_bootstrap, s.topic, [variants(3), b"{not json", variants(4)])
    s2 = load_gcn_settings(s.path)
    assert s2.group_id == stored
    stop, thread, state = _run(s2, tmp_path / "state.json")
    wait_for(lambda: alert_dir(s, 4).exists(), what="alerts sent while down")
    stop.set()
    thread.join(30)
    assert alert_dir(s, 3).exists()
    rejected = s.download_dir / "rejected" / f"{s.topic}-p0-o4.json"
    assert rejected.read_bytes() == b"{not json"
    assert state.data["alerts_processed"] == 5 and state.data["alerts_written"] == 4
    assert state.data["last_error"]["offset"] == 4
    index = yaml.safe_load((alert_dir(s, 1).parent / "event.yaml").read_text())
    assert index["n_alerts"] == 4


def test_echo_reads_every_partition_from_days_ago_and_survives_bad_messages(
    kafka_settings, kafka_bootstrap, variants
):
    s = kafka_settings(partitions=2)
    old = int((time.time() - 5 * 86400) * 1000)
    produce(kafka_bootstrap, s.topic, [variants(10)], partition=0, timestamp_ms=old)
    produce(kafka_bootstrap, s.topic, [variants(11)], partition=0)
    produce(kafka_bootstrap, s.topic, [b"\x00garbage", variants(12)], partition=1)
    counts = echo(s, 1.5, progress=False)
    assert counts["written"] == 2 and counts["rejected"] == 1 and counts["older"] == 1
    assert alert_dir(s, 11).exists() and alert_dir(s, 12).exists() and not alert_dir(s, 10).exists()
    assert (s.download_dir / "rejected" / f"{s.topic}-p1-o0.bin.error.txt").exists()
    # echo commits nothing and leaves the listener's group id unset
    assert load_gcn_settings(s.path).group_id == ""
    counts = echo(s, 10, progress=False)  # 10 days: the old one too; the rest are unchanged
    assert counts["written"] == 1 and counts["unchanged"] == 2 and alert_dir(s, 10).exists()


def test_daemon_killed_mid_stream_and_restarted_loses_no_alert(kafka_settings,
                                                               kafka_bootstrap, variants):
    s = ensure_group_id(kafka_settings())
    paths = daemon.DaemonPaths.of(s)
    pid = daemon.start(s)
    assert int(paths.pid.read_text()) == pid and daemon.status(s)["running"]
    wait_for(lambda: ListenerState.read(paths.state).get("status") == "running", timeout=120,
             what="daemon running", log=paths.log)
    n = 8
    produce(kafka_bootstrap, s.topic, [variants(20 + i) for i in range(n)])
    wait_for(lambda: alert_dir(s, 20).exists(), timeout=120, what="the first alert", log=paths.log)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not daemon.pid_alive(pid), what="the kill")
    done_at_kill = sum(alert_dir(s, 20 + i).exists() for i in range(n))
    assert done_at_kill < n  # killed mid-stream
    assert not daemon.status(s)["running"]
    pid2 = daemon.start(s)
    assert pid2 != pid
    wait_for(lambda: all(alert_dir(s, 20 + i).exists() for i in range(n)), timeout=180,
             what="every alert after the restart", log=paths.log)
    # an alert's directory appears (renamed into place) a moment before the listener counts it
    # in its state file: wait for the count too, rather than read it in that moment
    wait_for(lambda: daemon.status(s)["alerts_processed"] >= n, timeout=30,
             what="the state file to count every alert", log=paths.log)
    st = daemon.status(s)
    assert st["running"] and st["pid"] == pid2 and st["alerts_processed"] >= n
    assert st["last_message_age_s"] is not None and st["last_message_age_s"] < 120
    assert daemon.stop(s) == pid2
    assert not daemon.status(s)["running"] and not paths.pid.exists()
    log = paths.log.read_text()
    assert "listening to" in log and "written" in log
