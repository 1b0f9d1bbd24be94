"""``process``: run notice files through the listener's pipeline, as if they had just arrived.

For testing settings, filters and plugins, and for replaying a local archive beyond Kafka
retention. ``.gz`` and ``.xz`` files are decompressed first. What can be read is read:

- a notice (JSON or igwn-gwalert Avro);
- a tarball (``.tar``, ``.tar.gz``, ``.tar.xz``...) of notices: each member in turn;
- a bare multi-order sky map (FITS): wrapped in a minimal notice made from its header
  (superevent id from the file name, else ``OBJECT``; event time from ``DATE-OBS``; alert type
  PRELIMINARY; FAR and significance unknown: null, which the schema check then does not count as
  a problem, since the map cannot give them), so its products are written as for a notice
  carrying it;

anything else is refused with a message saying what the file is and why it is not a notice.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import logging
import lzma
import re
import sys
import tarfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skysift.gcn.listen import handle_message
from skysift.gcn.pipeline import AlertProcessor
from skysift.gcn.rejected import save_rejected
from skysift.skymaps.multiorder import read_multiorder

__all__ = ["notices_in", "process_files", "read_notice_file"]

log = logging.getLogger("skysift.gcn")


def read_notice_file(path: Path) -> bytes:
    """The bytes of a notice file, decompressed when it ends in .gz or .xz (or .tgz)."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix in (".gz", ".tgz"):
        return gzip.decompress(data)
    if path.suffix in (".xz", ".txz"):
        return lzma.decompress(data)
    return data


_KINDS = ((b"\x89PNG", "a PNG image"), (b"PK\x03\x04", "a ZIP archive"), (b"%PDF", "a PDF"),
          (b"\x1f\x8b", "gzip data"), (b"\xfd7zXZ", "xz data"))


def describe(data: bytes) -> str:
    """What a file that is not a notice looks like, for the message."""
    for magic, kind in _KINDS:
        if data.startswith(magic):
            return kind
    head = data[:200]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    first = text.strip().splitlines()[0][:60] if text.strip() else ""
    return f"text starting {first!r}" if first else "an empty file"


#: The fields of an LVK notice that a bare sky map does not give: null in the notice made for it
#: (the schema wants a number and a boolean; inventing one would mislead a filter on FAR).
WRAPPED_UNKNOWN = ("event.far", "event.significant")


def _fits_notice(data: bytes, name: str) -> bytes:
    """A minimal notice carrying a bare sky map, from its FITS header."""

    m = read_multiorder(data, where=name)  # SkymapError when it is not a multi-order map
    header = m.header
    # the file name carries the superevent id (MS220722v_bayestar...); OBJECT often holds the
    # GraceDB event id (M252714) instead
    stem = Path(name.split(":")[-1]).name.split("_")[0].split(".")[0].split("-")[0]
    sid = stem if re.fullmatch(r"[MST]?S\d{6}[a-z]+", stem) else str(
        header.get("OBJECT") or stem).strip()
    when = str(header.get("DATE-OBS") or "").strip()
    try:
        event_time = datetime.fromisoformat(when.replace("Z", "")).replace(tzinfo=UTC)
    except ValueError:
        event_time = None
    created = str(header.get("DATE") or "").strip()
    try:
        created_at = datetime.fromisoformat(created.replace("Z", "")).replace(tzinfo=UTC)
    except ValueError:
        created_at = event_time or datetime.now(UTC)
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    notice: dict[str, Any] = {
        "alert_type": "PRELIMINARY", "time_created": created_at.strftime(iso),
        "superevent_id": sid, "urls": {"gracedb": ""}, "external_coinc": None,
        "event": {"time": (event_time or created_at).strftime(iso), "far": None,
                  "significant": None, "instruments": [], "group": "CBC",
                  "pipeline": str(header.get("CREATOR") or "unknown"), "search": "unknown",
                  "properties": {}, "classification": {}, "duration": None,
                  "central_frequency": None, "skymap": base64.b64encode(data).decode()},
    }
    return json.dumps(notice).encode()


def notices_in(path: Path, data: bytes) -> Iterator[tuple[bytes, str, bool]]:
    """(notice bytes, where, wrapped) for each notice a file holds (see the module doc);
    ``wrapped`` for the notice made for a bare sky map (its :data:`WRAPPED_UNKNOWN` are null).

    Raises
    ------
    ValueError
        The file holds no notice; the message says what it is.
    """
    name = str(path)
    if data.startswith(b"SIMPLE"):
        yield _fits_notice(data, name), name, True
        return
    if len(data) > 262 and data[257:262] == b"ustar":  # a tar archive
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            if not members:
                raise ValueError(f"{name} is an empty tar archive")
            for member in members:
                handle = tar.extractfile(member)
                inner = handle.read() if handle is not None else b""
                where = f"{name}:{member.name}"
                if member.name.endswith((".gz", ".xz")):
                    inner = (gzip.decompress(inner) if member.name.endswith(".gz")
                             else lzma.decompress(inner))
                if inner.startswith(b"SIMPLE"):
                    yield _fits_notice(inner, where), where, True
                elif inner.lstrip()[:1] in (b"{", b"[") or inner[:4] == b"Obj\x01":
                    yield inner, where, False
                else:
                    log.warning("%s is not a notice (%s): skipped", where, describe(inner))
        return
    stripped = data.lstrip()[:1]
    if stripped in (b"{", b"[") or data[:4] == b"Obj\x01" or not data:
        yield data, name, False
        return
    kind = describe(data)
    if kind == "binary data":  # perhaps schemaless igwn-gwalert Avro: let the decoder judge
        yield data, name, False
        return
    raise ValueError(f"{name} is not a notice: it is {kind} (a notice is LVK JSON or "
                     "igwn-gwalert Avro; a tarball of notices or a multi-order FITS map are "
                     "read too)")


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
                with contextlib.suppress(OSError):
                    save_rejected(processor.settings.download_dir, path.read_bytes(),
                                  [f"cannot read: {exc}"], {"path": str(path)})
            continue
        try:
            found = list(notices_in(path, raw))
        except Exception as exc:  # any unreadable content: said, kept, go on
            log.error("%s", exc if isinstance(exc, ValueError) else f"cannot read {path}: {exc}")
            counts["unreadable"] += 1
            with contextlib.suppress(OSError):
                save_rejected(processor.settings.download_dir, raw, [str(exc)],
                              {"path": str(path)})
            continue
        for notice, where, wrapped in found:
            if wrapped:
                log.info("%s: a bare sky map, wrapped in a notice of its own: its FAR, "
                         "significance and classification are unknown", where)
            outcome = handle_message(processor, notice, {"path": where},
                                     unknown=WRAPPED_UNKNOWN if wrapped else ())
            counts[outcome.status] += 1
    return counts
