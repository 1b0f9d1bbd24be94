"""Avro object-container files (writer schema embedded), read block by block so one bad record
does not lose the rest of the file.

An OCF is a header (``Obj\\x01``, metadata with ``avro.schema`` and ``avro.codec``, a 16-byte sync
marker) and then blocks of ``count, size, data, sync``. Each block is decoded on its own: a record
that fails loses the rest of its block only (Avro cannot resynchronise inside a block), and a block
whose framing is broken is skipped by searching for the next sync marker. Codecs: null, deflate,
bzip2, xz; any other falls back to fastavro's own reader (no recovery past a bad record).
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import threading
import zlib
from collections import OrderedDict
from typing import Any, cast
from collections.abc import Iterator

import fastavro

from skysift.alerts.model import AlertOrigin
from skysift.alerts.schemas import infer_version, version_from_name
from skysift.errors import AlertDecodeError

__all__ = ["OCF_MAGIC", "OcfRecord", "iter_ocf_records"]

OCF_MAGIC = b"Obj\x01"
SYNC_SIZE = 16
_DECOMPRESS = {
    "null": lambda data: data,
    "deflate": lambda data: zlib.decompress(data, -15),
    "bzip2": bz2.decompress,
    "xz": lzma.decompress,
}
_schema_cache: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
_schema_lock = threading.Lock()

#: One record of an OCF: the raw decoded dict, its version label, where it came from.
OcfRecord = tuple[dict[str, Any], str, AlertOrigin]


def _read_long(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """One zig-zag varint at ``pos``: (value, next position)."""
    shift = 0
    acc = 0
    while True:
        if pos >= len(buf):
            raise EOFError("varint runs past the end")
        byte = buf[pos]
        pos += 1
        acc |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (acc >> 1) ^ -(acc & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _read_header(data: bytes) -> tuple[dict[str, bytes], bytes, int]:
    """Metadata, sync marker and the offset of the first block."""
    pos = len(OCF_MAGIC)
    meta: dict[str, bytes] = {}
    while True:
        count, pos = _read_long(data, pos)
        if count == 0:
            break
        if count < 0:
            count = -count
            _, pos = _read_long(data, pos)  # block size in bytes, not needed
        for _ in range(count):
            klen, pos = _read_long(data, pos)
            key = data[pos:pos + klen].decode("utf-8")
            pos += klen
            vlen, pos = _read_long(data, pos)
            meta[key] = data[pos:pos + vlen]
            pos += vlen
            if pos > len(data):
                raise EOFError("header runs past the end")
    sync = data[pos:pos + SYNC_SIZE]
    if len(sync) != SYNC_SIZE:
        raise EOFError("header ends before the sync marker")
    return meta, sync, pos + SYNC_SIZE


def _parsed(schema_text: bytes) -> dict[str, Any]:
    """The parsed writer schema, cached by its text (files of one stream share one schema)."""
    with _schema_lock:
        found = _schema_cache.get(schema_text)
        if found is not None:
            _schema_cache.move_to_end(schema_text)
            return found
    # an alert file's writer schema is a record: it parses to a dict
    parsed = cast(dict[str, Any], fastavro.parse_schema(json.loads(schema_text)))
    with _schema_lock:
        _schema_cache[schema_text] = parsed
        while len(_schema_cache) > 16:
            _schema_cache.popitem(last=False)
    return parsed


class _Labeller:
    """The version label of a file's records: from the writer schema name, else inferred once."""

    def __init__(self, schema_name: str) -> None:
        version = version_from_name(schema_name)
        self.name = schema_name
        self.label = f"{version[0]}.{version[1]}" if version else None

    def __call__(self, record: dict[str, Any]) -> str:
        if self.label is None:
            inferred = infer_version(record)
            self.label = f"{inferred[0]}.{inferred[1]}" if inferred else self.name
        return self.label


def iter_ocf_records(data: bytes, path: str) -> Iterator[OcfRecord | AlertDecodeError]:
    """Every record of an OCF held in ``data``, or an error in place of what could not be read.

    Records are numbered from 0 in file order (``AlertOrigin.index``); records lost with a
    broken block are not counted, so later numbers may be low by as many.
    """
    try:
        meta, sync, pos = _read_header(data)
        codec = meta.get("avro.codec", b"null").decode("ascii")
        schema_text = meta["avro.schema"]
        parsed = _parsed(schema_text)
    except KeyError:
        yield AlertDecodeError("corrupt Avro file: no avro.schema in its header", path=path)
        return
    except (EOFError, ValueError, UnicodeDecodeError, TypeError) as exc:
        yield AlertDecodeError(f"corrupt Avro file header: {exc}", path=path)
        return
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        yield AlertDecodeError("not an alert file: the embedded schema is not a record", path=path)
        return
    label = _Labeller(str(parsed.get("name", "")))
    if codec not in _DECOMPRESS:
        yield from _fastavro_fallback(data, path, label)
        return
    decompress = _DECOMPRESS[codec]
    index = 0
    while pos < len(data):
        start = pos
        try:
            count, pos = _read_long(data, pos)
            size, pos = _read_long(data, pos)
            if count < 0 or size < 0 or pos + size + SYNC_SIZE > len(data):
                raise ValueError(f"block header says {count} records in {size} bytes")
            raw = data[pos:pos + size]
            pos += size
            if data[pos:pos + SYNC_SIZE] != sync:
                raise ValueError("sync marker missing after the block")
            pos += SYNC_SIZE
            block = decompress(raw)
        except (EOFError, ValueError, OSError, zlib.error, lzma.LZMAError) as exc:
            found = data.find(sync, start + 1)
            lost = "the rest of the file" if found < 0 else f"bytes {start}..{found + SYNC_SIZE}"
            yield AlertDecodeError(
                f"corrupt Avro file: broken block at byte {start} ({exc}); {lost} skipped",
                path=path, record=index,
            )
            if found < 0:
                return
            pos = found + SYNC_SIZE
            continue
        yield from _block_records(block, count, parsed, path, index, label)
        index += count


def _block_records(
    block: bytes, count: int, parsed: dict[str, Any], path: str, first: int, label: _Labeller
) -> Iterator[OcfRecord | AlertDecodeError]:
    stream = io.BytesIO(block)
    for i in range(count):
        origin = AlertOrigin(path=path, index=first + i)
        try:
            record = fastavro.schemaless_reader(stream, parsed, None)
        except (EOFError, UnicodeDecodeError, ValueError, TypeError, IndexError, KeyError,
                OverflowError, MemoryError) as exc:
            rest = count - i - 1
            tail = f"; the {rest} later records of its block are lost" if rest else ""
            yield AlertDecodeError(
                f"corrupt Avro record in file: {type(exc).__name__}: {exc}{tail}",
                **origin.as_where(),
            )
            return
        if not isinstance(record, dict):
            yield AlertDecodeError("not an alert: the record is not a record", **origin.as_where())
            continue
        yield record, label(record), origin


def _fastavro_fallback(
    data: bytes, path: str, label: _Labeller
) -> Iterator[OcfRecord | AlertDecodeError]:
    index = 0
    try:
        for record in fastavro.reader(io.BytesIO(data)):
            rec = cast(dict[str, Any], record)  # the container's records are records
            yield rec, label(rec), AlertOrigin(path=path, index=index)
            index += 1
    except (EOFError, ValueError, TypeError, KeyError, OSError) as exc:
        yield AlertDecodeError(
            f"corrupt Avro file: {type(exc).__name__}: {exc}; later records are lost",
            path=path, record=index,
        )
