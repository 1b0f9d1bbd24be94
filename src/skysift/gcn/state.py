"""The listener's status file (``<settings>.state.json``), read by ``skysift gcn status``.

Counters are cumulative over restarts; the file is rewritten atomically after every notice and on
errors and state changes, and at most once a second for the idle heartbeat.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from skysift.gcn import atomic

__all__ = ["ListenerState"]


class ListenerState:
    """Counters and the last message/error of a listener, persisted to ``path``."""

    def __init__(self, path: Path | None, pid: int) -> None:
        self.path = Path(path) if path else None
        previous = self.read(self.path) if self.path else {}
        self.data: dict[str, Any] = {
            "pid": pid, "status": "starting", "started": time.time(),
            "messages": int(previous.get("messages", 0)),
            "alerts_processed": int(previous.get("alerts_processed", 0)),
            "alerts_written": int(previous.get("alerts_written", 0)),
            "alerts_rejected": int(previous.get("alerts_rejected", 0)),
            "last_message_at": previous.get("last_message_at"),
            "last_alert": previous.get("last_alert"),
            "last_error": previous.get("last_error"),
            "heartbeat": time.time(),
        }
        self._written = 0.0

    @staticmethod
    def read(path: Path | None) -> dict[str, Any]:
        """The saved state, or {} when there is none or it is unreadable."""
        if path is None or not Path(path).exists():
            return {}
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return {}

    def set(self, force: bool = False, **values: Any) -> None:
        """Update fields and save (throttled unless ``force``)."""
        self.data.update(values)
        self.data["heartbeat"] = time.time()
        self.save(force)

    def count(self, outcome_status: str, label: str) -> None:
        """Record one processed notice."""
        d = self.data
        d["messages"] += 1
        d["last_message_at"] = time.time()
        d["alerts_processed"] += 1
        if outcome_status == "written":
            d["alerts_written"] += 1
        if outcome_status == "rejected":
            d["alerts_rejected"] += 1
        d["last_alert"] = label
        self.save(force=True)

    def error(self, message: str, **where: Any) -> None:
        """Record the last error (with where it happened) and save at once."""
        self.data["last_error"] = {"time": time.time(), "message": message, **where}
        self.save(force=True)

    def save(self, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.time()
        if force or now - self._written >= 1.0:
            atomic.write_text(self.path, json.dumps(self.data, indent=1, default=str))
            self._written = now
