"""The event-level index: ``event.yaml`` (sequence numbers, latest alert, retraction) and
``latest``.

``event.yaml`` is recomputed from the alert directories present, in time order, so it is the same
whatever order the notices arrived or were replayed in, and rewriting it for a notice seen before
changes nothing. ``RETRACTED`` exists (and ``status: retracted``) once a retraction was written.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from skysift.gcn import atomic
from skysift.gcn.layout import ALERT_DIR_PATTERN

__all__ = ["INDEX_FILE", "RETRACTED_FILE", "event_lock", "read_event_index", "update_event_index"]

INDEX_FILE = "event.yaml"
RETRACTED_FILE = "RETRACTED"
LATEST_LINK = "latest"


@contextlib.contextmanager
def event_lock(event_dir: Path) -> Iterator[None]:
    """An exclusive lock on one event directory (listener, echo and process may run together)."""
    event_dir.mkdir(parents=True, exist_ok=True)
    with open(event_dir / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_event_index(event_dir: Path) -> dict[str, Any] | None:
    """The parsed ``event.yaml``, or None when there is none."""
    path = Path(event_dir) / INDEX_FILE
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text())


def update_event_index(event_dir: Path, superevent_id: str) -> dict[str, Any]:
    """Rebuild ``event.yaml``, the ``latest`` link and ``RETRACTED``; call under
    :func:`event_lock`."""
    event_dir = Path(event_dir)
    names = sorted(p.name for p in event_dir.iterdir()
                   if p.is_dir() and ALERT_DIR_PATTERN.match(p.name))
    alerts = []
    retraction = None
    for seq, name in enumerate(names, start=1):
        stamp, kind = name.split("_", 1)
        alerts.append({"sequence": seq, "directory": name, "alert_type": kind.upper(),
                       "time_created": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T"
                                       f"{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"})
        if kind == "retraction":
            retraction = name
    index: dict[str, Any] = {
        "superevent_id": superevent_id,
        "status": "retracted" if retraction else "active",
        "retraction": retraction,
        "n_alerts": len(alerts),
        "latest": names[-1] if names else None,
        "latest_sequence": len(alerts),
        "alerts": alerts,
    }
    text = yaml.safe_dump(index, sort_keys=False)
    path = event_dir / INDEX_FILE
    if not path.exists() or path.read_text() != text:
        atomic.write_text(path, text)
    link = event_dir / LATEST_LINK
    if names and (not link.is_symlink() or link.readlink().name != names[-1]):
        atomic.replace_symlink(link, names[-1])
    marker = event_dir / RETRACTED_FILE
    if retraction and not marker.exists():
        atomic.write_text(marker, f"{superevent_id} retracted by {retraction}\n")
    return index
