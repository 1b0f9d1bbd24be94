"""The archive, backtest and replay as a user types them, on a real broker and store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.archive import night_of

RUBIN = Path(__file__).resolve().parents[1] / "data" / "rubin"
SQL = "SELECT objects.diaObjectId, objects.ra, objects.decl FROM objects WHERE objects.ra > 0"
EVERYTHING = "SELECT objects.diaObjectId FROM objects"


def run(tmp_path, bootstrap, *args, ok=True):
    r = subprocess.run([sys.executable, "-m", "skysift", "--data-dir", str(tmp_path / "d"),
                        "--kafka", bootstrap, *args], capture_output=True, text=True, timeout=180)
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def test_archive_list_backtest_replay_prune_and_rebuild(tmp_path, kafka_bootstrap):
    alerts = [a for p in iter_alert_files([RUBIN]) for a in read_alerts(p)]
    nights: dict[str, int] = {}
    for a in alerts:
        n = night_of(a.diaSource["midpointMjdTai"])
        nights[n] = nights.get(n, 0) + 1
    run(tmp_path, kafka_bootstrap, "user", "add", "alice")
    topic = run(tmp_path, kafka_bootstrap, "filter", "add", "--user", "alice", "--name", "east",
                "--sql", SQL).stdout.strip()
    r = run(tmp_path, kafka_bootstrap, "ingest", str(RUBIN), "--no-progress")
    produced = int(r.stdout.split(f"{topic}: ")[1].split()[0])

    r = run(tmp_path, kafka_bootstrap, "archive", "list")
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[2:]}
    for night, n in nights.items():
        assert int(rows[night][2]) == n  # alerts of the night
    assert int(rows["total"][2]) == len(alerts)

    r = run(tmp_path, kafka_bootstrap, "filter", "backtest", "east", "--nights", "30", "--json",
            "--no-progress")
    report = json.loads(r.stdout)
    assert report["records"] == produced and report["alerts"] == len(alerts)
    assert [n["night"] for n in report["nights"]] == sorted(nights)

    # an unsaved edit that matches everything: flagged, with the numbers
    r = run(tmp_path, kafka_bootstrap, "filter", "backtest", "east", "--sql", EVERYTHING,
            "--from", min(nights), "--to", max(nights), "--no-progress")
    newest = max(nights)
    assert f"over the archived night {min(nights)}" in r.stderr  # the first night that floods
    assert "the limit is 5.0%" in r.stderr
    assert r.stdout.splitlines()[0].startswith("backtest of filter 'east' over ")

    # saving it active says so too
    r = run(tmp_path, kafka_bootstrap, "filter", "edit", "east", "--sql", EVERYTHING)
    assert "warning: filter east: over the archived night" in r.stderr

    r = run(tmp_path, kafka_bootstrap, "filter", "replay", "east", "--from", min(nights),
            "--to", max(nights), "--topic", f"{topic}-again", "--no-progress")
    replayed = int(r.stdout.strip().splitlines()[-1].split()[0])
    assert replayed == sum(1 for a in alerts if a.diaObjectId is not None)
    r = run(tmp_path, kafka_bootstrap, "consume", "--topic", f"{topic}-again", "--group-id",
            "g", "--timeout", "8", "--headers")
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(records) == replayed
    assert {rec["_headers"]["reason"] for rec in records} == {"replay"}

    # a store rebuilt from the archive, then the oldest nights pruned
    r = run(tmp_path, kafka_bootstrap, "--database", f"sqlite:///{tmp_path / 'again.db'}",
            "ingest", "--from-archive", f"{min(nights)}..{max(nights)}", "--no-progress")
    assert f"ingested {len(alerts)}, rejected 0" in r.stdout
    r = run(tmp_path, kafka_bootstrap, "archive", "prune", "--keep", "1")
    assert f"deleted {len(nights) - 1} night(s)" in r.stdout
    r = run(tmp_path, kafka_bootstrap, "archive", "list")
    assert "1 night(s)" in r.stdout and newest in r.stdout
    r = run(tmp_path, kafka_bootstrap, "ingest", "--from-archive", "1999-01-01", ok=False)
    assert r.returncode != 0 and "holds none of the nights" in r.stderr
