"""The listener as a background process: start, status, quit, restart.

``start`` launches ``python -m skysift.gcn.daemon <settings>`` in a new session (detached from the
terminal, stdin closed, stdout/stderr to the log file). The pid, log and status files sit beside the
settings file: ``<stem>.pid``, ``<stem>.log``, ``<stem>.state.json``. SIGTERM stops it cleanly (the
consumer is closed); SIGKILL loses nothing either, because offsets are committed only after an alert
is on disk.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skysift.errors import GcnError
from skysift.gcn.settings import GcnSettings, load_gcn_settings
from skysift.gcn.state import ListenerState
from skysift.processes import pid_alive
from skysift.gcn.listen import listen
from skysift.gcn.pipeline import AlertProcessor

__all__ = ["DaemonPaths", "main", "pid_alive", "restart", "start", "status", "stop"]


@dataclass(frozen=True)
class DaemonPaths:
    """pid, log and status files of the daemon that belongs to one settings file."""

    pid: Path
    log: Path
    state: Path

    @classmethod
    def of(cls, settings: GcnSettings) -> DaemonPaths:
        base = settings.state_dir / settings.path.stem
        return cls(Path(f"{base}.pid"), Path(f"{base}.log"), Path(f"{base}.state.json"))


def _running_pid(paths: DaemonPaths) -> int | None:
    try:
        pid = int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid):
        return pid
    paths.pid.unlink(missing_ok=True)  # stale
    return None


def start(settings: GcnSettings, *, plugins: bool | None = None, timeout: float = 30.0) -> int:
    """Start the daemon; returns its pid. Raises GcnError if it is running or dies at start."""
    paths = DaemonPaths.of(settings)
    running = _running_pid(paths)
    if running:
        raise GcnError(f"the listener is already running (pid {running})", path=str(paths.pid))
    cmd = [sys.executable, "-m", "skysift.gcn.daemon", str(settings.path)]
    if plugins is not None:
        cmd.append("--plugins" if plugins else "--no-plugins")
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.log, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True, cwd=str(settings.state_dir))
    paths.pid.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            paths.pid.unlink(missing_ok=True)
            tail = paths.log.read_text(errors="replace").strip().splitlines()[-3:]
            raise GcnError("the listener stopped at start: " + " | ".join(tail),
                           path=str(paths.log))
        st = ListenerState.read(paths.state)
        if st.get("pid") == proc.pid and st.get("status") in ("connecting", "running"):
            return proc.pid
        time.sleep(0.1)
    return proc.pid  # still starting (a slow broker); status will tell


def stop(settings: GcnSettings, timeout: float = 15.0) -> int | None:
    """SIGTERM the daemon and wait (SIGKILL after ``timeout``); returns the pid it stopped."""
    paths = DaemonPaths.of(settings)
    pid = _running_pid(paths)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    paths.pid.unlink(missing_ok=True)
    return pid


def restart(settings: GcnSettings, *, plugins: bool | None = None) -> int:
    """Stop (if running) and start again; returns the new pid."""
    stop(settings)
    return start(settings, plugins=plugins)


def status(settings: GcnSettings) -> dict[str, Any]:
    """Running or not, pid, counters, age of the last message and the last error."""
    paths = DaemonPaths.of(settings)
    pid = _running_pid(paths)
    st = ListenerState.read(paths.state)
    now = time.time()
    last = st.get("last_message_at")
    return {
        "running": pid is not None, "pid": pid, "log": str(paths.log),
        "status": st.get("status") if pid else "stopped",
        "alerts_processed": st.get("alerts_processed", 0),
        "alerts_written": st.get("alerts_written", 0),
        "alerts_rejected": st.get("alerts_rejected", 0),
        "last_message_age_s": (now - last) if last else None,
        "last_alert": st.get("last_alert"),
        "last_error": st.get("last_error"),
        "heartbeat_age_s": (now - st["heartbeat"]) if pid and st.get("heartbeat") else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point of the daemon process (also usable in the foreground)."""
    parser = argparse.ArgumentParser(prog="skysift.gcn.daemon")
    parser.add_argument("settings")
    parser.add_argument("--plugins", dest="plugins", action="store_true", default=None)
    parser.add_argument("--no-plugins", dest="plugins", action="store_false")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    settings = load_gcn_settings(args.settings)
    paths = DaemonPaths.of(settings)
    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: stop_event.set())
    state = ListenerState(paths.state, os.getpid())
    try:
        listen(settings, processor=AlertProcessor(settings, plugins=args.plugins), stop=stop_event,
               state=state)
    except Exception as exc:
        logging.getLogger("skysift.gcn").exception("listener stopped")
        state.error(f"listener stopped: {exc}")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - the daemon process
    sys.exit(main())
