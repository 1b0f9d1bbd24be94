"""``process``: run notice files through the listener's pipeline, as if they had just arrived.

For testing settings, filters and plugins, and for replaying a local archive beyond Kafka
retention. ``.gz`` and ``.xz`` files are decompressed first.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import sys
from collections import Counter
from pathlib import Path

from skysift.gcn.listen import handle_message
from skysift.gcn.pipeline import AlertProcessor
from skysift.gcn.rejected import save_rejected

__all__ = ["process_files", "read_notice_file"]

log = logging.getLogger("skysift.gcn")


def read_notice_file(path: Path) -> bytes:
    """The bytes of a notice file, decompressed when it ends in .gz or .xz."""
    data = Path(path).read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".xz":
        return lzma.decompress(data)
    return data


def process_files(paths: list[Path], processor: AlertProcessor, *,
                  progress: bool | None = None) -> Counter:
    """Process every file; one bad file is logged (and kept in rejected/) and the rest go on."""
    from tqdm import tqdm

    counts: Counter = Counter()
    show = sys.stderr.isatty() if progress is None else progress
    for path in tqdm([Path(p) for p in paths], unit="file", desc="process", disable=not show,
                     file=sys.stderr):
        try:
            raw = read_notice_file(path)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            log.error("cannot read %s: %s", path, exc)
            counts["unreadable"] += 1
            if path.is_file():
                try:
                    save_rejected(processor.settings.download_dir, path.read_bytes(),
                                  [f"cannot read: {exc}"], {"path": str(path)})
                except OSError:
                    pass
            continue
        outcome = handle_message(processor, raw, {"path": str(path)})
        counts[outcome.status] += 1
    return counts
