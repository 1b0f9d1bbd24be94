"""The command line as a user types it: users, filters, ingest, consume, on a real broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
SQL = "SELECT objects.diaObjectId, objects.ra, objects.decl FROM objects WHERE objects.ra > 0"


def run(tmp_path, bootstrap, *args, ok=True):
    r = subprocess.run([sys.executable, "-m", "skysift", "--data-dir", str(tmp_path / "d"),
                        "--kafka", bootstrap, *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def test_user_filter_ingest_consume(tmp_path, kafka_bootstrap):
    r = run(tmp_path, kafka_bootstrap, "user", "add", "alice", "--email", "a@example.org")
    uid = int(r.stdout.split("id=")[1].split()[0])
    assert len(r.stdout.split("token=")[1].strip()) == 40

    r = run(tmp_path, kafka_bootstrap, "filter", "add", "--user", "alice", "--name", "my SN!",
            "--sql", SQL, "--output", "lite")
    topic = r.stdout.strip()
    assert topic == f"lasair_{uid}mySN"

    listing = tmp_path / "filters.yaml"
    listing.write_text(f"- {{user: alice, name: second, sql: '{SQL}', output: plain}}\n"
                       f"- {{user: alice, name: bad, sql: 'SELECT * FROM users'}}\n")
    r = run(tmp_path, kafka_bootstrap, "filter", "import", str(listing), ok=False)
    assert r.returncode == 1
    assert "added 1, failed 1" in r.stdout
    assert "entry 1" in r.stderr and "users" in r.stderr

    r = run(tmp_path, kafka_bootstrap, "ingest", str(RUBIN), "--no-progress")
    assert "rejected 0" in r.stdout and f"{topic}:" in r.stdout

    r = run(tmp_path, kafka_bootstrap, "filter", "run", "my SN!", "--json")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows and all(row["ra"] > 0 for row in rows)
    assert "rows in" in r.stderr

    r = run(tmp_path, kafka_bootstrap, "consume", "--topic", topic, "--group-id", "g1",
            "--timeout", "8", "--headers")
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert {rec["diaObjectId"] for rec in records} == {row["diaObjectId"] for row in rows}
    assert all(rec["_headers"]["reason"] == "alert" and "diaSourcesList" in rec["alert"]
               for rec in records)
    # the same group again: nothing new
    r = run(tmp_path, kafka_bootstrap, "consume", "--topic", topic, "--group-id", "g1",
            "--timeout", "5")
    assert r.stdout == ""

    r = run(tmp_path, kafka_bootstrap, "filter", "show", "my SN!")
    assert topic in r.stdout and f"{len(records)} records" in r.stdout

    r = run(tmp_path, kafka_bootstrap, "filter", "list")
    assert "second" in r.stdout and "my SN!" in r.stdout and "bad" not in r.stdout

    r = run(tmp_path, kafka_bootstrap, "filter", "edit", "my SN!", "--new-name", "renamed")
    assert r.stdout.strip() == f"lasair_{uid}renamed"
    r = run(tmp_path, kafka_bootstrap, "filter", "delete", "renamed")
    assert f"lasair_{uid}renamed" in r.stdout


def test_errors_are_one_line_and_debug_adds_the_traceback(tmp_path, kafka_bootstrap):
    r = run(tmp_path, kafka_bootstrap, "filter", "add", "--user", "nobody", "--name", "x",
            "--sql", SQL, ok=False)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == ["skysift: no such user (user=nobody)"]
    r = run(tmp_path, kafka_bootstrap, "--debug", "filter", "add", "--user", "nobody", "--name",
            "x", "--sql", SQL, ok=False)
    assert "Traceback" in r.stderr and r.returncode == 1
