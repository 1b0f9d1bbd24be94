"""Where things go on disk, and what the sky-map file is called."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from skysift.skymaps.notice import Notice

__all__ = [
    "ALERT_DIR_PATTERN",
    "alert_dir_name",
    "event_dir",
    "map_name",
    "notice_file_name",
    "rejected_dir",
]

ALERT_DIR_PATTERN = re.compile(r"^\d{8}T\d{6}_[a-z]+$")
_KNOWN_CREATORS = ("bayestar", "cwb", "olib", "mly", "bilby", "lalinference", "rapidpe")


def event_dir(download_dir: Path, notice: Notice) -> Path:
    """``<download_dir>/<mockevents|superevents>/<superevent_id>``."""
    kind = "mockevents" if notice.is_mock else "superevents"
    return Path(download_dir) / kind / notice.superevent_id


def alert_dir_name(notice: Notice) -> str:
    """``<YYYYMMDDTHHMMSS of time_created>_<alert type, lower case>``, e.g.
    ``20181101T223420_earlywarning``."""
    return f"{notice.time_created:%Y%m%dT%H%M%S}_{notice.alert_type.lower()}"


def notice_file_name(notice: Notice) -> str:
    """The name the notice is kept under: ``<id>-<alert type>.json`` (or ``.avro``)."""
    return f"{notice.superevent_id}-{notice.alert_type.lower()}.{notice.format}"


def rejected_dir(download_dir: Path) -> Path:
    """Where notices that could not be (fully) processed are kept, with the reason."""
    return Path(download_dir) / "rejected"


def map_name(header: dict[str, Any], event: dict[str, Any] | None) -> str:
    """The sky map's honest producer, lower case: bayestar, bilby, olib, cwb, ...

    ``ligo-skymap-from-samples`` only converts posterior samples: the samples come from bilby for
    compact binaries and from the burst pipeline itself (oLIB, ...) for bursts.

    >>> map_name({"CREATOR": "BAYESTAR"}, {"group": "CBC"})
    'bayestar'
    >>> map_name({"CREATOR": "ligo-skymap-from-samples"}, {"group": "Burst", "pipeline": "oLIB"})
    'olib'
    """
    creator = str(header.get("CREATOR", "")).strip().lower()
    event = event or {}
    group = str(event.get("group", "")).lower()
    pipeline = re.sub(r"[^a-z0-9]+", "", str(event.get("pipeline", "")).lower())
    for known in _KNOWN_CREATORS:
        if known in creator:
            return known
    if creator == "ligo-skymap-from-samples":
        if group == "burst":
            return pipeline or "burst"
        return "bilby"
    clean = re.sub(r"[^a-z0-9]+", "-", creator).strip("-")
    return clean or pipeline or "skymap"
