"""The README's tour, typed in order as a new user would, after `make demo` stopped with Ctrl-C.

The commands are read from README.md itself (the indented blocks of "A five-minute tour"), so
the test follows the README as it is written. Two waits are shortened for the suite's time
budget (`--timeout 10` and `--idle-exit 10` become 3 seconds); `serve` is given a free port and
stopped once /health answers. The demo runs as `make demo` runs it (`skysift demo`, the default
data directory `skysift-data/` in the working directory) and is stopped with SIGINT, which also
stops the broker it started: the commands after it must start what they need themselves.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_commands() -> list[str]:
    """The shell commands of the tour's indented code blocks, continuation lines joined."""
    text = README.read_text()
    tour = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    pending = ""
    for line in tour.splitlines():
        if not line.startswith("    ") or line.startswith("    #"):
            continue
        body = line[4:]
        if pending:
            body = pending + " " + body.strip()
            pending = ""
        if body.rstrip().endswith("\\"):
            pending = body.rstrip()[:-1].rstrip()
            continue
        stripped = body.strip()
        if not stripped.startswith((".venv/bin/skysift", "printf")):
            continue
        # drop a trailing comment (two spaces then #), keeping '#' inside quotes
        stripped = re.sub(r"\s{2,}#[^\"']*$", "", stripped)
        commands.append(stripped)
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: str, cwd: Path, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False,
                          timeout=timeout)
    assert done.returncode == 0, f"`{cmd}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_tour_parses_into_the_commands_a_user_types():
    commands = tour_commands()
    assert commands[0].startswith(".venv/bin/skysift consume --topic lasair_1bright_detections")
    assert any(c.startswith(".venv/bin/skysift filter add --user alice --name faint --output lite "
                            "--sql \"SELECT") for c in commands)
    assert commands[-1] == ".venv/bin/skysift serve"
    assert ".venv/bin/skysift kafka down" in commands


def test_the_readme_tour_works_after_the_demo_is_stopped_with_ctrl_c(tmp_path):
    cwd = tmp_path / "clone"
    cwd.mkdir()
    (cwd / ".venv").symlink_to(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYSIFT_")}
    env["PYTHONUNBUFFERED"] = "1"
    demo = subprocess.Popen([".venv/bin/skysift", "demo"], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 180
        assert demo.stdout is not None
        for line in demo.stdout:
            seen.append(line)
            if "until Ctrl-C" in line:
                break
            assert time.monotonic() < deadline, "".join(seen)
        else:
            raise AssertionError("the demo ended before it said 'until Ctrl-C':\n" + "".join(seen))
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    output = "".join(seen) + (rest or "")
    assert "gravitational-wave event MS250905a" in output
    assert "stopped the embedded broker" in output, output[-2000:]

    outputs: dict[str, str] = {}
    for cmd in tour_commands():
        cmd = cmd.replace("--timeout 10", "--timeout 3").replace("--idle-exit 10", "--idle-exit 3")
        if cmd.endswith("skysift serve"):
            continue  # below, on a free port
        done = _run(cmd, cwd, env)
        outputs[cmd] = done.stdout + done.stderr
    gw = next(o for c, o in outputs.items() if " gw show " in c)
    assert "superevent_id  MS250905a" in gw and "hits" in gw
    # the units, from the columns' comments (docs/filters.md gives the same)
    assert re.search(r"^area90 +[\d.]+  \(deg2\)$", gw, re.M), gw
    assert re.search(r"^dist_mean +[\d.]+  \(Mpc\)$", gw, re.M), gw
    first = next(iter(outputs.values()))  # consume: the first command that needs Kafka
    assert "started the embedded Kafka broker" in first  # the demo's was stopped with it
    added = next(o for c, o in outputs.items() if " filter add " in c)
    assert added.startswith("lasair_2faint")
    ingested = next(o for c, o in outputs.items() if " ingest --from-kafka " in c)
    assert re.search(r"ingested 21, rejected 0", ingested), ingested
    archived = next(o for c, o in outputs.items() if " archive list" in c)
    assert re.search(r"^total +\d+ +42 ", archived, re.M), archived  # the demo's 21, the tour's 21
    tested = next(o for c, o in outputs.items() if " filter backtest " in c)
    # the same 21 alerts twice: a backtest counts each once
    assert re.search(r"backtest of filter 'faint' over \d+ night\(s\): 21 alerts", tested), tested
    crossmatched = next(o for c, o in outputs.items() if " watchlist crossmatch " in c)
    assert "watchlist 1: 1 hit\n" in crossmatched
    # which object, the cone's name and the separation (arcsec, within the cone's 3)
    match = re.search(r"^(\d+) +1 +my target +([\d.]+) *$", crossmatched, re.M)
    assert match and float(match.group(2)) <= 3.0, crossmatched

    port = _free_port()
    serve = subprocess.Popen([".venv/bin/skysift", "serve", "--port", str(port)], cwd=cwd, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status in (200, 503):
                        break
            except OSError:
                pass
            assert serve.poll() is None and time.monotonic() < deadline, serve.communicate()[0]
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/gw/MS250905a", timeout=10) as r:
            assert r.status == 200 and b"MS250905a" in r.read()
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
        _run(".venv/bin/skysift kafka down", cwd, env)
