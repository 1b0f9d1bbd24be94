"""Write files so that a reader never sees half of one: a temporary name, then ``os.replace``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["publish_dir", "replace_symlink", "write_bytes", "write_text"]


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (same directory temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` (a relative name), replacing any previous link atomically."""
    link = Path(link)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def publish_dir(staging: Path, final: Path) -> None:
    """Move a finished ``staging`` directory to ``final`` in one rename.

    When ``final`` exists it is first renamed aside and removed after the new one is in place, so
    ``final`` is always either the old complete directory or the new complete one.
    """
    staging, final = Path(staging), Path(final)
    if final.exists():
        aside = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, aside)
        os.replace(staging, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staging, final)
