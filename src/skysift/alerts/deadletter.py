"""Dead letters: where alerts that could not be decoded are kept, unchanged, with the reason.

Two places, one per input kind (docs/alert-formats.md describes both formats):

- a folder (``settings.dead_letter_dir``) for files and for messages when Kafka is not at hand:
  the raw bytes (or a copy of the bad file) and ``<name>.reason.json`` beside it;
- the Kafka topic ``<input topic>.dlq``: the message value unchanged, the reason and the source
  topic/partition/offset in headers. :func:`dead_letter_record` builds the record; the pipeline
  produces it.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import tempfile
import uuid
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

from skysift.alerts.model import AlertOrigin
from skysift.errors import SkysiftError

__all__ = ["DLQ_SUFFIX", "MAX_REASON_CHARS", "DeadLetterFolder", "dead_letter_record"]

DLQ_SUFFIX = ".dlq"
MAX_REASON_CHARS = 4000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "alert"


def _origin_fields(origin: AlertOrigin) -> dict[str, Any]:
    return {
        "path": origin.path,
        "topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "record": origin.index,
        "timestamp_ms": origin.timestamp_ms,
    }


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DeadLetterFolder:
    """A folder of rejected alerts: each kept as raw bytes plus ``<name>.reason.json``.

    Parameters
    ----------
    root
        The folder; created on first use.

    Notes
    -----
    Kafka messages are kept as ``<topic>-p<partition>-o<offset>.alert`` (Rubin framing, so
    :func:`skysift.alerts.files.read_alerts` can read them again). Files are copied under their
    own name (``<stem>-<n><suffix>`` if taken), once even when several of their records are bad;
    each bad record gets its own ``<name>#<record>.reason.json``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _name_for(self, origin: AlertOrigin) -> str:
        if origin.topic is not None:
            return _safe(f"{origin.topic}-p{origin.partition}-o{origin.offset}") + ".alert"
        if origin.path is not None:
            return _safe(Path(origin.path).name)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"{stamp}-{uuid.uuid4().hex[:8]}.alert"

    def _place(self, name: str, raw: bytes | None, origin: AlertOrigin) -> tuple[Path, bool]:
        """Where to keep the bytes, and whether they are there already (the same bad file)."""
        target = self.root / name
        stem, suffix = Path(name).stem, Path(name).suffix
        n = 1
        while target.exists():
            if target.is_file() and self._same(target, raw, origin):
                return target, True
            target = self.root / f"{stem}-{n}{suffix}"
            n += 1
        return target, False

    @staticmethod
    def _same(target: Path, raw: bytes | None, origin: AlertOrigin) -> bool:
        """Whether ``target`` already holds these bytes (another bad record of one file)."""
        if origin.topic is not None:
            return False
        if raw is not None:
            return target.stat().st_size == len(raw) and target.read_bytes() == bytes(raw)
        source = origin.path
        return source is not None and bool(source) and Path(source).is_file() \
            and filecmp.cmp(source, target, False)

    @staticmethod
    def _note_path(target: Path, record: int | None) -> Path:
        mark = f"#{record}" if record is not None else ""
        return target.with_name(f"{target.name}{mark}.reason.json")

    def keep(self, raw: bytes | None, origin: AlertOrigin, reason: str) -> Path:
        """Keep one rejected alert and why.

        Parameters
        ----------
        raw
            The bytes as received; ``None`` to copy the bad file ``origin.path`` instead.
        origin
            Where it came from (written into the reason note).
        reason
            Why it was rejected, for a person (an error's ``str``).

        Returns
        -------
        Path
            The kept bytes (the reason note is ``<that name>.reason.json``, or
            ``<that name>#<record>.reason.json`` for a record inside a multi-record file).

        Raises
        ------
        SkysiftError
            Nothing to keep (no bytes and no readable file), or the folder is not writable.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        target, already = self._place(self._name_for(origin), raw, origin)
        try:
            if not already:
                if raw is not None:
                    _write_atomic(target, bytes(raw))
                elif origin.path is not None and Path(origin.path).is_file():
                    shutil.copyfile(origin.path, target)
                else:
                    target.touch()  # nothing readable: keep the name so the note has a partner
            note = {
                "reason": reason[:MAX_REASON_CHARS],
                **_origin_fields(origin),
                "time": _now(),
                "kept": target.name,
                "bytes": target.stat().st_size,
            }
            text = json.dumps(note, indent=2).encode("utf-8")
            _write_atomic(self._note_path(target, origin.index), text)
        except OSError as exc:
            raise SkysiftError(
                f"cannot write dead letter: {exc.strerror or exc}", path=str(self.root)
            ) from exc
        return target


def dead_letter_record(
    raw: bytes, origin: AlertOrigin, reason: str
) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    """What to produce to the dead-letter topic for a message that could not be decoded.

    Parameters
    ----------
    raw
        The message value as received (kept unchanged).
    origin
        The message's topic, partition and offset (``origin.topic`` is required).
    reason
        Why it was rejected.

    Returns
    -------
    tuple
        ``(topic, key, value, headers)``: topic ``<origin.topic>.dlq``; key
        ``b"<topic>/<partition>/<offset>"``; value ``raw``; headers ``skysift.reason``,
        ``skysift.source.topic``, ``skysift.source.partition``, ``skysift.source.offset``,
        ``skysift.source.timestamp_ms`` (when known) and ``skysift.time``, all UTF-8.

    Raises
    ------
    SkysiftError
        ``origin`` names no topic (a file: use :class:`DeadLetterFolder`).
    """
    if origin.topic is None:
        raise SkysiftError(
            "a dead-letter record needs the input topic: this alert came from a file",
            path=origin.path,
        )
    headers: list[tuple[str, bytes]] = [
        ("skysift.reason", reason[:MAX_REASON_CHARS].encode("utf-8")),
        ("skysift.source.topic", origin.topic.encode("utf-8")),
        ("skysift.source.partition", str(origin.partition).encode("ascii")),
        ("skysift.source.offset", str(origin.offset).encode("ascii")),
    ]
    if origin.timestamp_ms is not None:
        headers.append(("skysift.source.timestamp_ms", str(origin.timestamp_ms).encode("ascii")))
    headers.append(("skysift.time", _now().encode("ascii")))
    key = f"{origin.topic}/{origin.partition}/{origin.offset}".encode()
    return origin.topic + DLQ_SUFFIX, key, bytes(raw), headers
