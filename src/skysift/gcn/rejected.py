"""Keep notices that could not be (fully) processed, with the reason, in
``<download_dir>/rejected``."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skysift.gcn import atomic
from skysift.gcn.layout import rejected_dir

__all__ = ["describe_where", "save_rejected"]


def describe_where(where: dict[str, Any]) -> str:
    """``topic=igwn.gwalert partition=0 offset=12`` or ``path=/x/y.json``."""
    return " ".join(f"{k}={v}" for k, v in where.items() if v is not None)


def _stem(raw: bytes, where: dict[str, Any]) -> str:
    if "offset" in where:
        stem = f"{where.get('topic', 'kafka')}-p{where.get('partition', 0)}-o{where['offset']}"
    elif "path" in where:
        stem = Path(str(where["path"])).name
    else:
        stem = hashlib.sha256(raw).hexdigest()[:16]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)


def save_rejected(download_dir: Path, raw: bytes, reasons: list[str],
                  where: dict[str, Any]) -> Path:
    """Write the raw notice and ``<name>.error.txt`` (where, when, why); returns the notice's path.

    The name comes from where the notice came from (topic, partition, offset, or file name), so a
    notice that fails again on a replay overwrites its own entry instead of piling up copies.
    """
    folder = rejected_dir(download_dir)
    stem = _stem(raw, where)
    suffix = "" if re.search(r"\.(json|avro)$", stem) else (
        ".json" if raw.lstrip()[:1] == b"{" else ".bin")
    target = folder / f"{stem}{suffix}"
    atomic.write_bytes(target, raw)
    lines = [f"where: {describe_where(where)}",
             f"when: {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
             *[f"error: {r}" for r in reasons]]
    atomic.write_text(target.with_name(target.name + ".error.txt"), "\n".join(lines) + "\n")
    return target
