"""The alert archive: every ingested alert as it was received, kept by observing night.

Layout (docs/archive.md)::

    <archive>/night=2025-09-04/<host>-<pid>-<opened UTC>-<n>-<random>.avro       Avro file
    <archive>/night=2025-09-04/<host>-<pid>-<opened UTC>-<n>-<random>.avro.json  its summary

A night is Rubin's ``dayObs``: the calendar date at UTC-12 h of the alert's
``diaSource.midpointMjdTai`` (:func:`night_of`). Each worker appends the alerts of each batch it
stored to its open file of that night, one Avro block per batch (flushed, so a crash loses at
most the batch being written, which Kafka delivers again). A file is closed when it passes
``archive_segment_mb`` or when the worker stops; its summary (alerts, bytes, first and last
MJD) is written beside it, and, for an ``s3://`` archive, both are uploaded then from the local
spool. The archive keeps the newest ``archive_nights`` nights (:meth:`AlertArchive.prune`).

Each record (:data:`ARCHIVE_SCHEMA`) is the message as received: Rubin's framing (``0x00``,
the schema id, the schemaless Avro body) byte for byte, except that each cutout field holds
null unless ``archive_keep_cutouts`` (the images are most of an alert's bytes). Alerts read
from Avro container or JSON files carry no framed message: they are kept as the JSON of their
normalised record (``message`` starting with ``{``). Beside the message: the live batch it was
processed in and when, and where it came from, so a backtest can rebuild the live batches.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import fastavro

from skysift.alerts.decode import decode_message
from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.config import Settings
from skysift.errors import AlertDecodeError, ArchiveError
from skysift.store.blobs import BlobStore, DirStore, open_blob_store

__all__ = ["ARCHIVE_SCHEMA", "AlertArchive", "ArchivedAlert", "NightSummary", "archive_store",
           "decode_archived", "iter_night", "list_nights", "night_of", "nights_to_run",
           "parse_nights", "prune_nights"]

log = logging.getLogger(__name__)

#: The schema of one archived alert (the records of every archive file).
ARCHIVE_SCHEMA: dict[str, Any] = fastavro.parse_schema({  # type: ignore[assignment]
    "type": "record", "name": "ArchivedAlert", "namespace": "skysift.archive",
    "doc": "One ingested alert as received, with the batch it was processed in.",
    "fields": [
        {"name": "message", "type": "bytes",
         "doc": "Rubin framing (0x00, 4-byte schema id, Avro body), cutouts null unless kept; "
                "or the JSON of the normalised alert for alerts read from OCF/JSON files"},
        {"name": "diaSourceId", "type": "long"},
        {"name": "diaObjectId", "type": ["null", "long"], "default": None},
        {"name": "midpointMjdTai", "type": "double"},
        {"name": "schema_version", "type": "string"},
        {"name": "batch", "type": "string", "doc": "the live batch: <worker>:<sequence>"},
        {"name": "ingested_ms", "type": "long", "doc": "when that batch was stored, UTC ms"},
        {"name": "topic", "type": ["null", "string"], "default": None},
        {"name": "partition", "type": ["null", "int"], "default": None},
        {"name": "offset", "type": ["null", "long"], "default": None},
        {"name": "path", "type": ["null", "string"], "default": None},
        {"name": "index", "type": ["null", "int"], "default": None},
    ],
})
_CODEC = "zstandard"
_INSTANCES = itertools.count(1)  # archives made in this process
_FILES = itertools.count(1)  # files opened in this process
_NIGHT_DIR = re.compile(r"^night=(\d{4}-\d{2}-\d{2})$")
_MJD_EPOCH = date(1858, 11, 17)


def night_of(mjd: float) -> str:
    """Rubin's observing night (``dayObs``) of an MJD: the date at UTC-12 h, ``YYYY-MM-DD``.

    >>> night_of(60924.33)   # 2025-09-06 07:55 UTC, in the night that began on the 5th
    '2025-09-05'
    >>> night_of(60924.6)    # 14:24 UTC on the 6th: the night of the 6th
    '2025-09-06'
    """
    return (_MJD_EPOCH + timedelta(days=int((mjd - 0.5) // 1))).isoformat()


def parse_nights(text: str) -> list[str]:
    """Nights from a command line: ``2025-09-04``, ``2025-09-04..2025-09-06`` (inclusive),
    or several of either joined by commas.

    >>> parse_nights("2025-09-04..2025-09-06,2025-10-01")
    ['2025-09-04', '2025-09-05', '2025-09-06', '2025-10-01']
    """
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, _, last = part.partition("..")
        try:
            a = date.fromisoformat(first)
            b = date.fromisoformat(last) if last else a
        except ValueError as exc:
            raise ArchiveError(f"not a night or range of nights: {part!r} "
                               "(YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)") from exc
        if b < a:
            raise ArchiveError(f"a range of nights runs forward: {part!r}")
        out += [(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]
    return sorted(set(out))


def archive_store(settings: Settings) -> BlobStore:
    """Where the settings keep the archive: ``archive_url`` or ``<data_dir>/archive``."""
    return open_blob_store(settings.archive_url or settings.data_dir / "archive", settings)


def _worker_tag() -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}"


def _as_record(alert: Alert, keep_cutouts: bool) -> tuple[bytes, str]:
    """The message kept for ``alert``, and its schema version label."""
    if alert.raw is not None:
        return (alert.raw if keep_cutouts else alert.without_cutouts()) or b"", \
            alert.schema_version
    record = {"diaSource": alert.diaSource, "prvDiaSources": alert.prvDiaSources,
              "prvDiaForcedSources": alert.prvDiaForcedSources, "diaObject": alert.diaObject,
              **alert.extra}
    return json.dumps(record, default=str).encode(), alert.schema_version


def _writer_alive(name: str) -> bool:
    """Whether the process of this machine that named a spool file is still running."""
    tag = name.rsplit("-", 3)[0]  # <host>-<pid>
    host, _, pid = tag.rpartition("-")
    if host != _worker_tag().rpartition("-")[0] or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process, and not open here: left by an earlier archive object
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _salvage(path: Path) -> bytes:
    """A file whose worker died: cut back to its last whole block; its summary."""
    end, alerts = 0, 0
    first, last = float("inf"), float("-inf")
    with open(path, "rb") as f:
        try:
            blocks = fastavro.block_reader(f)
            end = f.tell()  # the header
            for block in blocks:
                for record in block:
                    r: dict[str, Any] = record  # type: ignore[assignment]
                    first, last = min(first, r["midpointMjdTai"]), max(last, r["midpointMjdTai"])
                alerts += block.num_records
                end = f.tell()
        except Exception as exc:  # a torn block (or header): keep what came before it
            log.warning("archive file %s is torn after %d alerts: the rest is dropped (%s)",
                        path, alerts, exc)
    with open(path, "r+b") as f:
        f.truncate(end)
    log.warning("archive file %s was left by a worker that stopped: %d alerts kept", path,
                alerts)
    return json.dumps({"alerts": alerts, "bytes": end, "first_mjd": first, "last_mjd": last,
                       "worker": path.name.rsplit("-", 3)[0], "salvaged": True}).encode()


@dataclass
class _Segment:
    night: str
    key: str  # the key in the archive
    path: Path  # where it is being written
    file: IO[bytes]
    writer: Any
    alerts: int = 0
    first_mjd: float = float("inf")
    last_mjd: float = float("-inf")


class AlertArchive:
    """Appends each stored batch's alerts to this worker's open file of their night.

    Parameters
    ----------
    settings
        ``archive_url``, ``archive_nights`` (0: write nothing), ``archive_keep_cutouts``,
        ``archive_segment_mb``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = archive_store(settings)
        self.local = isinstance(self.store, DirStore)
        self.spool = (self.store.root if isinstance(self.store, DirStore)
                      else settings.data_dir / "archive-spool")
        self.tag = _worker_tag()
        #: this archive's batches: ``<worker>#<instance>:<n>``, unique even with several
        #: pipelines in one process
        self.batch_prefix = f"{self.tag}#{next(_INSTANCES)}"
        self.batches = 0
        #: alerts archived with their cutouts although not asked (see :meth:`write`)
        self.with_images = 0
        self.segment_bytes = settings.archive_segment_mb * 1_000_000
        self._open: dict[str, _Segment] = {}
        self._opened = 0
        self._nights_seen: set[str] = set()
        if not self.local:
            self._send_spooled()  # what a worker that died, or a failed upload, left behind

    def __repr__(self) -> str:
        return f"AlertArchive({self.store.location!r})"

    # ------------------------------------------------------------------ writing
    def _segment(self, night: str) -> _Segment:
        seg = self._open.get(night)
        if seg is not None:
            return seg
        self._opened = next(_FILES)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        # <worker>-<opened>-<n>-<random>: never the name of another file, even after a restart
        key = f"night={night}/{self.tag}-{stamp}-{self._opened}-{secrets.token_hex(3)}.avro"
        path = self.spool / key
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "xb")  # noqa: SIM115 - kept open across batches, closed in _close
        writer = fastavro.write.Writer(f, ARCHIVE_SCHEMA, codec=_CODEC,
                                       metadata={"skysift.night": night,
                                                 "skysift.worker": self.tag})
        writer.flush()  # the header: a file that is only a header reads as zero alerts
        seg = self._open[night] = _Segment(night, key, path, f, writer)
        if night not in self._nights_seen:
            self._nights_seen.add(night)
            for older in [s for n, s in self._open.items() if n < night]:
                self._close(older)  # a new night began: the earlier nights' files are done
            self.prune()  # and the oldest night may go
        return seg

    def write(self, alerts: Sequence[Alert]) -> int:
        """Append one stored batch (one Avro block per night it touches); the alerts kept.

        Raises OSError (or StoreError from an S3 upload) when the disk or bucket refuses: the
        pipeline logs it and ingest goes on."""
        if not alerts:
            return 0
        self.batches += 1
        batch = f"{self.batch_prefix}:{self.batches}"
        now_ms = int(time.time() * 1000)
        keep = self.settings.archive_keep_cutouts
        by_night: dict[str, list[dict[str, Any]]] = {}
        for a in alerts:
            mjd = float(a.diaSource.get("midpointMjdTai") or 0.0)
            message, version = _as_record(a, keep)
            if not keep and a.raw is not None and not a.cutout_spans:
                self.with_images += 1  # decoded the full way: where the images lie is unknown
                if self.with_images == 1:
                    log.warning("archive: alert %s (%s) is kept with its cutouts: the fast "
                                "decode declined it, so where they lie is not known (counted "
                                "in AlertArchive.with_images; said once)", a.diaSourceId,
                                a.origin.describe())
            o = a.origin
            by_night.setdefault(night_of(mjd), []).append({
                "message": message, "diaSourceId": a.diaSourceId, "diaObjectId": a.diaObjectId,
                "midpointMjdTai": mjd, "schema_version": version, "batch": batch,
                "ingested_ms": now_ms, "topic": o.topic, "partition": o.partition,
                "offset": o.offset, "path": o.path, "index": o.index})
        for night, records in sorted(by_night.items()):
            seg = self._segment(night)
            for r in records:
                seg.writer.write(r)
            seg.writer.flush()
            seg.file.flush()
            seg.alerts += len(records)
            seg.first_mjd = min(seg.first_mjd, *(r["midpointMjdTai"] for r in records))
            seg.last_mjd = max(seg.last_mjd, *(r["midpointMjdTai"] for r in records))
            if seg.file.tell() >= self.segment_bytes:
                self._close(seg)
        return len(alerts)

    def _close(self, seg: _Segment) -> None:
        self._open.pop(seg.night, None)
        seg.writer.flush()
        seg.file.close()
        size = seg.path.stat().st_size
        summary = json.dumps({"alerts": seg.alerts, "bytes": size, "first_mjd": seg.first_mjd,
                              "last_mjd": seg.last_mjd, "worker": self.tag}).encode()
        if self.local:
            self.store.put_many({seg.key + ".json": summary})
            return
        # the summary goes into the spool beside the file: what is in the spool and not open is
        # uploaded (now, or by the next worker that starts if this upload fails)
        seg.path.with_name(seg.path.name + ".json").write_bytes(summary)
        self._send_spooled()

    def _send_spooled(self) -> None:
        """Upload every closed file of the spool with its summary, then free it. A file left by
        a worker that died (no summary, maybe a torn last block) is cut back to its last whole
        block and summarised first. A failed upload leaves the file for the next try (the
        next file closed, or the next worker started) and is logged."""
        for path in sorted(self.spool.glob("night=*/*.avro")):
            if any(seg.path == path for seg in self._open.values()):
                continue  # being written by this worker
            summary = path.with_name(path.name + ".json")
            if not summary.exists():
                if _writer_alive(path.name):
                    continue  # being written by another worker of this machine
                summary.write_bytes(_salvage(path))
            key = path.relative_to(self.spool).as_posix()
            try:
                self.store.put_many({key: path.read_bytes(), key + ".json": summary.read_bytes()})
            except Exception as exc:  # kept in the spool, tried again later
                log.error("cannot upload the archive file %s to %s (kept in %s, tried again "
                          "later): %s", key, self.store.location, self.spool, exc)
                continue
            path.unlink()
            summary.unlink()

    def close(self) -> None:
        """Close every open file (each gets its summary; S3: uploaded)."""
        for seg in list(self._open.values()):
            try:
                self._close(seg)
            except Exception as exc:  # closing: say it, go on with the others
                log.error("cannot close the archive file %s: %s", seg.key, exc)

    def prune(self) -> list[str]:
        """Delete the nights older than the newest ``archive_nights``; the nights deleted."""
        try:
            return prune_nights(self.store, self.settings.archive_nights,
                                keep=set(self._open))
        except Exception as exc:  # pruning never stops ingest
            log.error("cannot prune the archive %s: %s", self.store.location, exc)
            return []


# ---------------------------------------------------------------------- reading and listing
@dataclass
class NightSummary:
    """One archived night: its files, alerts and bytes (compressed)."""

    night: str
    files: list[str] = field(default_factory=list)
    alerts: int = 0
    bytes: int = 0


def _night_files(store: BlobStore) -> dict[str, list[str]]:
    nights: dict[str, list[str]] = {}
    for key in store.keys("night="):
        folder, _, name = key.partition("/")
        m = _NIGHT_DIR.match(folder)
        if m and name.endswith(".avro") and "/" not in name:
            nights.setdefault(m.group(1), []).append(key)
    return {n: sorted(files) for n, files in sorted(nights.items())}


def _count_blocks(store: BlobStore, key: str) -> tuple[int, int]:
    """(alerts, bytes) of a file without a usable summary (still open, or its worker died):
    the blocks that can be read, streamed."""
    stream = store.open_read(key)
    if stream is None:
        return 0, 0
    n = size = 0
    with stream:
        try:
            for block in fastavro.block_reader(stream):
                n += block.num_records
                size += block.size
        except Exception as exc:  # a torn last block: count what is whole
            log.debug("stopped counting %s at a torn block: %s", key, exc)
    return n, size


def list_nights(store: BlobStore) -> list[NightSummary]:
    """Every archived night, oldest first, with its alerts and bytes (compressed: the bytes of
    the blocks for a file without a summary)."""
    out = []
    for night, files in _night_files(store).items():
        s = NightSummary(night, files)
        for key in files:
            summary = store.get(key + ".json")
            try:
                info: Any = json.loads(summary) if summary is not None else None
                alerts, nbytes = int(info["alerts"]), int(info["bytes"])
            except (TypeError, ValueError, KeyError) as exc:
                if summary is not None:
                    log.warning("archive summary %s.json is unreadable (%s): counting the "
                                "file's blocks instead", key, exc)
                alerts, nbytes = _count_blocks(store, key)
            s.alerts += alerts
            s.bytes += nbytes
        out.append(s)
    return out


def nights_to_run(settings: Settings, nights: Sequence[str] | None = None,
                  last: int | None = None) -> dict[str, int]:
    """The archived nights a run over ``nights`` (those the archive does not hold are skipped)
    or the newest ``last`` (neither: every night) goes through, oldest first, with the alerts
    the archive holds for each.

    Raises
    ------
    ArchiveError
        The archive holds none of ``nights``, or no night at all.
    """
    held = {n.night: n.alerts for n in list_nights(archive_store(settings))}
    names = list(held)
    if nights is not None:
        missing = [n for n in nights if n not in held]
        if missing and len(missing) == len(nights):
            raise ArchiveError(f"the archive holds none of the nights asked for "
                               f"({nights[0]}..{nights[-1]}); it holds "
                               + (f"{names[0]}..{names[-1]}" if names else "no night"))
        return {n: held[n] for n in nights if n in held}
    if not held:
        raise ArchiveError("the archive holds no night yet: alerts are archived as they are "
                           "ingested (setting archive_nights)")
    return {n: held[n] for n in (names[-last:] if last else names)}


def prune_nights(store: BlobStore, keep_nights: int, *, keep: Iterable[str] = ()) -> list[str]:
    """Delete every night but the newest ``keep_nights`` (and the nights in ``keep``, which a
    writer has open); the nights deleted, oldest first."""
    nights = _night_files(store)
    newest = set(sorted(nights)[-keep_nights:]) if keep_nights > 0 else set()
    gone = [n for n in nights if n not in newest and n not in set(keep)]
    for night in gone:
        store.delete_many([k for f in nights[night] for k in (f, f + ".json")])
        log.info("archive: night %s deleted (%d files; keeping the newest %d nights)",
                 night, len(nights[night]), keep_nights)
    return gone


@dataclass
class ArchivedAlert:
    """One record of an archive file, its message not yet decoded."""

    record: dict[str, Any]
    night: str
    key: str
    index: int  # record number in the file

    @property
    def batch(self) -> str:
        return str(self.record["batch"])

    def origin(self) -> AlertOrigin:
        """Where the alert first came from (a Kafka message or a file)."""
        r = self.record
        return AlertOrigin(path=r["path"], topic=r["topic"], partition=r["partition"],
                           offset=r["offset"], index=r["index"])


def decode_archived(item: ArchivedAlert, *, registry_url: str | None = None) -> Alert:
    """The alert of an archived record, decoded as the live pipeline decoded it.

    Raises
    ------
    ArchiveError
        The message is not a readable alert: names the night, file and record.
    """
    message = item.record["message"]
    origin = item.origin()
    where = {"night": item.night, "path": item.key, "record": item.index}
    try:
        if message[:1] == b"{":
            return normalise_lsst(json.loads(message), item.record["schema_version"], origin)
        return decode_message(message, origin, registry_url=registry_url)
    except (AlertDecodeError, ValueError) as exc:
        raise ArchiveError(f"archived alert {item.record['diaSourceId']} cannot be decoded: "
                           f"{getattr(exc, 'message', exc)}", **where) from exc


def _iter_file(store: BlobStore, night: str, key: str) -> Iterator[ArchivedAlert | ArchiveError]:
    """The records of one file, streamed; an error in place of a torn or corrupt rest."""
    stream = store.open_read(key)
    if stream is None:
        yield ArchiveError("archive file vanished while being read", night=night, path=key)
        return
    index = 0
    with stream:
        try:
            for record in fastavro.reader(stream):
                yield ArchivedAlert(record, night, key, index)  # type: ignore[arg-type]
                index += 1
        except Exception as exc:  # a torn or corrupt block: the rest of this file is lost
            yield ArchiveError(f"archive file unreadable after {index} records: "
                               f"{type(exc).__name__}: {exc}", night=night, path=key,
                               record=index)


def _file_order(key: str) -> tuple[str, str, int]:
    """(worker, opened, n) of ``night=.../<host>-<pid>-<opened>-<n>-<random>.avro``."""
    name = key.rpartition("/")[2].removesuffix(".avro")
    parts = name.rsplit("-", 3)
    if len(parts) == 4 and parts[2].isdigit():
        return parts[0], parts[1], int(parts[2])
    return name, "", 0


def _batch_order(item: ArchivedAlert | ArchiveError, last: tuple[int, int]) -> tuple[int, int]:
    if isinstance(item, ArchiveError):
        return last
    worker_seq = str(item.record["batch"]).rpartition(":")[2]
    return int(item.record["ingested_ms"]), int(worker_seq) if worker_seq.isdigit() else 0


def iter_night(store: BlobStore, night: str) -> Iterator[ArchivedAlert | ArchiveError]:
    """Every record archived for ``night`` in the order it was stored, or an error in place of
    what cannot be read. Each worker's files are read one after the other (in the order it
    opened them); the workers' streams are merged by the time of their batches (ties by batch
    number), one file open per worker at a time."""
    by_worker: dict[str, list[str]] = {}
    for key in _night_files(store).get(night, []):
        by_worker.setdefault(_file_order(key)[0], []).append(key)

    def stream(keys: list[str]) -> Iterator[tuple[tuple[int, int], ArchivedAlert | ArchiveError]]:
        last = (0, 0)
        for key in sorted(keys, key=_file_order):
            for item in _iter_file(store, night, key):
                last = _batch_order(item, last)
                yield last, item

    streams = [stream(keys) for _w, keys in sorted(by_worker.items())]
    if len(streams) == 1:
        for _order, item in streams[0]:
            yield item
        return
    for _order, item in heapq.merge(*streams, key=lambda pair: pair[0]):
        yield item
