"""What a worker is doing, for the home page, ``/health`` and the Prometheus metrics.

One :class:`WorkerState` per loop (alert ingest, annotation ingest). The loop writes it; the web
app and the metrics read :meth:`WorkerState.snapshot`. Updates are single attribute writes under
a lock, so readers in other threads see a consistent picture.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Status", "WorkerSnapshot", "WorkerState"]

Status = Literal["starting", "joining", "running", "retrying", "restarting", "stopped"]


@dataclass(frozen=True)
class WorkerSnapshot:
    """A copy of a worker's state at one moment (times are Unix seconds)."""

    name: str
    status: Status
    since: float
    last_batch_at: float | None
    last_error: str | None
    last_error_at: float | None
    incident: str | None
    incident_since: float | None
    restarts: int
    alerts_ingested: int
    alerts_rejected: int
    records_produced: int
    batches: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def healthy(self) -> bool:
        """Running or waiting for work, with no open incident."""
        return self.status in ("starting", "joining", "running") and self.incident is None

    @property
    def problem(self) -> str | None:
        """What is wrong, in words safe to show anyone (no host names, no SQL)."""
        if self.status == "restarting":
            return "the ingest loop stopped with an error and is being started again"
        if self.incident is None:
            return None
        text = self.incident.lower()
        if "database" in text or "store" in text:
            return "the database cannot be reached; batches wait and are tried again"
        if "broker" in text or "kafka" in text or "commit" in text or "dead letter" in text:
            return "the Kafka broker cannot be reached; batches wait and are tried again"
        return "a batch is being tried again"


@dataclass
class WorkerState:
    """The live state of one loop (see the module docstring)."""

    name: str
    status: Status = "starting"
    since: float = field(default_factory=time.time)
    last_batch_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    incident: str | None = None
    incident_since: float | None = None
    restarts: int = 0
    alerts_ingested: int = 0
    alerts_rejected: int = 0
    records_produced: int = 0
    batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_status(self, status: Status) -> None:
        with self._lock:
            if status != self.status:
                self.status, self.since = status, time.time()

    def joined(self) -> None:
        """The consumer group gave the loop partitions: it is running (waiting for messages is
        part of running; ``last_batch_at`` says when it last had work)."""
        with self._lock:
            self._running()

    def _running(self) -> None:  # under the lock
        if self.status in ("starting", "joining"):
            self.status, self.since = "running", time.time()

    def error(self, text: str) -> None:
        with self._lock:
            self.last_error, self.last_error_at = text, time.time()

    def incident_changed(self, is_open: bool, text: str | None) -> None:
        """An :class:`~skysift.worker.policy.Incident` started, changed or ended."""
        with self._lock:
            if is_open:
                if self.incident is None:
                    self.incident_since = time.time()
                self.incident = text
                self.last_error, self.last_error_at = text, time.time()
                if self.status != "retrying":
                    self.status, self.since = "retrying", time.time()
            else:
                self.incident = self.incident_since = None
                if self.status == "retrying":
                    self.status, self.since = "running", time.time()

    def restarted(self, why: str) -> None:
        """The supervisor starts the loop again after it ended with ``why``."""
        with self._lock:
            self.restarts += 1
            self.last_error, self.last_error_at = why, time.time()
            self.status, self.since = "restarting", time.time()

    def batch_done(self, ingested: int, rejected: int, records: int) -> None:
        with self._lock:
            self.batches += 1
            self.alerts_ingested += ingested
            self.alerts_rejected += rejected
            self.records_produced += records
            self.last_batch_at = time.time()
            self._running()

    def snapshot(self) -> WorkerSnapshot:
        with self._lock:
            return WorkerSnapshot(
                name=self.name, status=self.status, since=self.since,
                last_batch_at=self.last_batch_at, last_error=self.last_error,
                last_error_at=self.last_error_at, incident=self.incident,
                incident_since=self.incident_since, restarts=self.restarts,
                alerts_ingested=self.alerts_ingested, alerts_rejected=self.alerts_rejected,
                records_produced=self.records_produced, batches=self.batches)
