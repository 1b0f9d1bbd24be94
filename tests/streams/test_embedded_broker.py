"""The embedded broker of a data directory: skysift kafka up / status / down, for real."""

from __future__ import annotations

import os
import subprocess
import sys

from confluent_kafka.admin import AdminClient


def skysift(*args, data_dir):
    return subprocess.run([sys.executable, "-m", "skysift", "--data-dir", str(data_dir),
                           *args], capture_output=True, text=True, timeout=60)


def test_up_status_down(tmp_path):
    up = skysift("kafka", "up", data_dir=tmp_path)
    assert up.returncode == 0, up.stderr
    line = up.stdout.strip().splitlines()[0]
    assert line.startswith("bootstrap=127.0.0.1:")
    bootstrap = line.split("=", 1)[1]
    try:
        # a real metadata request answers
        md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
        assert md.brokers
        pid = int((tmp_path / "kafka.pid").read_text())
        os.kill(pid, 0)
        st = skysift("kafka", "status", data_dir=tmp_path)
        assert st.returncode == 0 and bootstrap in st.stdout
        # a second `up` reuses the running broker
        again = skysift("kafka", "up", data_dir=tmp_path)
        assert again.stdout.strip().splitlines()[0] == line
    finally:
        down = skysift("kafka", "down", data_dir=tmp_path)
    assert down.returncode == 0 and "stopped" in down.stdout
    st = skysift("kafka", "status", data_dir=tmp_path)
    assert st.returncode == 1 and "not running" in st.stdout
    assert not (tmp_path / "kafka.pid").exists()


def test_commands_start_the_broker_when_it_is_down_and_say_so(tmp_path):
    """At the prompt, a command that needs the data directory's broker starts it (it keeps
    nothing across restarts, which the message says) instead of failing."""
    try:
        r = skysift("consume", "--topic", "x", "--group-id", "g", "--timeout", "1",
                    data_dir=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "started the embedded Kafka broker at 127.0.0.1:" in r.stderr
        assert "topics and records from before it last stopped are gone" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        skysift("kafka", "down", data_dir=tmp_path)
