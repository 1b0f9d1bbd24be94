"""Fast decoding of Rubin alerts with the history projected to the fields the pipeline reads.

A Rubin alert carries its history (``prvDiaSources``, ~100 fields each, and
``prvDiaForcedSources``) and three cutout images. fastavro decodes ~1 field per microsecond, so a
full decode of an alert with 30 previous sources takes ~3 ms, more than the whole per-alert budget;
and fastavro's own schema resolution (a reader schema without the unwanted fields) is barely
faster, because it resolves every skipped value at run time (see docs/alert-formats.md).

:func:`fast_reader` builds, once per writer schema, a reader that walks the Avro body itself:

- top-level fields other than the history and the cutouts are read by fastavro, in runs of
  consecutive fields ("segments"), so their values are exactly what a full decode gives;
- each history array is read by Python code generated for that writer schema
  (:mod:`skysift.alerts.avrocode`: one regular expression per item, or straight-line code, one
  statement or two per field) that decodes only the fields in :data:`HISTORY_FIELDS` (under
  any older name the version uses) and steps over the rest;
- cutouts are stepped over (their length is read; the bytes are neither copied nor kept).

The reader is strict: anything unexpected (a union index or enum index out of range, a boolean
byte other than 0/1, invalid UTF-8 in a skipped string, a length past the end, bytes left over)
raises :class:`FastDecodeError`, and the caller then decodes the message the full, old way, which
raises the old error (or, for the odd case the old decoder accepts, gives the complete alert).
So the fast path never accepts bytes the full decode rejects.
"""

from __future__ import annotations

import io
import threading
from typing import Any, cast

import fastavro

from skysift.alerts.avrocode import (
    PRIMITIVE_TYPES,
    FastDecodeError,
    Unsupported,
    compile_reader,
    read_long,
)
from skysift.alerts.renames import record_renames

__all__ = ["HISTORY_FIELDS", "FastDecodeError", "FastReader", "fast_reader"]

#: The fields kept from every history item (newest names); older versions' names for them are
#: kept too (``midPointTai``, ``filterName``, ``psFlux``, ``decl``...) and renamed by normalise.
HISTORY_FIELDS: dict[str, tuple[str, frozenset[str]]] = {
    "prvDiaSources": ("diaSource", frozenset({
        "diaSourceId", "diaObjectId", "ssObjectId", "midpointMjdTai", "band", "psfFlux",
        "psfFluxErr", "reliability", "ra", "dec", "snr",
    })),
    "prvDiaForcedSources": ("diaForcedSource", frozenset({
        "diaForcedSourceId", "diaObjectId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr",
    })),
}
_SKIPPED = frozenset({"cutoutDifference", "cutoutScience", "cutoutTemplate"})
#: Wanted integer fields whose value repeats from item to item (converted once per run).
_REPEATED = frozenset({"diaObjectId"})
def _history_item(ftype: Any, named: dict[str, Any]) -> dict[str, Any] | None:
    """The item record of a history field typed ``array<record>`` or a union with null."""
    def resolve(t: Any) -> Any:
        return named.get(t, t) if isinstance(t, str) else t

    t = resolve(ftype)
    if isinstance(t, list):
        rest = [b for b in t if resolve(b) != "null"]
        if len(rest) != 1:
            return None
        t = resolve(rest[0])
    if not isinstance(t, dict) or t.get("type") != "array":
        return None
    item = resolve(t["items"])
    return item if isinstance(item, dict) and item.get("type") == "record" else None


def _inline(t: Any, named: dict[str, Any], defined: set[str]) -> Any:
    """``t`` with named references expanded at their first use (fastavro internals dropped)."""
    if isinstance(t, str):
        if t in PRIMITIVE_TYPES or t in defined or t not in named:
            return t
        return _inline(named[t], named, defined)
    if isinstance(t, list):
        return [_inline(b, named, defined) for b in t]
    if isinstance(t, dict):
        out = {k: v for k, v in t.items() if not k.startswith("__")}
        kind = t.get("type")
        if kind in ("record", "error", "enum", "fixed") and "name" in t:
            defined.add(t["name"])
        if kind in ("record", "error"):
            out["fields"] = [dict({k: v for k, v in f.items() if not k.startswith("__")},
                                  type=_inline(f["type"], named, defined)) for f in t["fields"]]
        elif kind == "array":
            out["items"] = _inline(t["items"], named, defined)
        elif kind == "map":
            out["values"] = _inline(t["values"], named, defined)
        elif isinstance(kind, (dict, list)):
            out["type"] = _inline(kind, named, defined)
        return out
    return t


def _skip_bytes(buf: bytes, p: int, end: int, branches: tuple[int, ...]) -> int:
    """Step over a ``bytes`` or ``["null", "bytes"]`` value (a cutout) without copying it."""
    if branches:
        u = buf[p]
        p += 1
        if u not in branches:
            raise FastDecodeError("union index out of range")
        if u != branches[-1]:  # the null branch
            return p
    n, p = read_long(buf, p)
    if n < 0 or p + n > end:
        raise FastDecodeError("length past the end")
    return p + n


class FastReader:
    """Reads one writer schema's alerts with the history projected (see the module docstring),
    or, ``complete``, with every field of the history (the same generated code keeping every
    field: ~2x faster than fastavro on Rubin alerts, for the records that need the whole alert).

    Attributes
    ----------
    projects
        True when at least one history field loses fields (``Alert.history_complete`` False);
        never for a complete reader.
    """

    def __init__(self, parsed: dict[str, Any], complete: bool = False) -> None:
        named = dict(parsed.get("__named_schemas") or {})
        self.steps: list[tuple[str, Any, Any]] = []
        self.projects = False
        self.complete = complete
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            if not pending:
                return
            defined: set[str] = set()  # each named type is defined once per segment
            seg = {"type": "record", "name": f"skysift_segment_{len(self.steps)}",
                   "fields": [dict({k: v for k, v in f.items() if not k.startswith("__")},
                                   type=_inline(f["type"], named, defined)) for f in pending]}
            self.steps.append(("avro", fastavro.parse_schema(seg), None))
            pending.clear()

        for f in parsed["fields"]:
            name = f["name"]
            step = self._special(name, f["type"], named)
            if step is None:
                pending.append(f)
                continue
            flush()
            self.steps.append(step)
        flush()

    def _special(self, name: str, ftype: Any, named: dict[str, Any]) -> tuple[str, Any, Any] | None:
        if name in _SKIPPED:
            t = [named.get(b, b) for b in ftype] if isinstance(ftype, list) else ftype
            if t == "bytes" or (isinstance(t, dict) and t.get("type") == "bytes"
                                and "logicalType" not in t):
                return ("skip", name, ())
            if isinstance(t, list) and len(t) == 2 and "null" in t and "bytes" in t:
                return ("skip", name, (0, 2) if t[0] == "null" else (2, 0))
            return None
        if name not in HISTORY_FIELDS:
            return None
        kind, needed = HISTORY_FIELDS[name]
        item = _history_item(ftype, named)
        if item is None:
            return None
        names = [f["name"] for f in item["fields"]]
        if self.complete:
            keep = frozenset(names)
        else:
            renames = record_renames(kind)
            keep = frozenset(n for n in names if renames.get(n, n) in needed)
        try:
            reader = compile_reader(ftype, named, keep, _REPEATED)
        except Unsupported:
            return None
        if len(keep) < len(names):
            self.projects = True
        return ("history", name, reader)

    def __call__(self, value: bytes, start: int,
                 spans: list[tuple[int, int, bytes]] | None = None) -> dict[str, Any]:
        """The record in ``value[start:]`` (which it must fill exactly), history projected.

        ``spans``, when given, receives ``(start, end, null)`` for every cutout stepped over:
        its bytes in ``value`` and the bytes of the same field holding no image (the union's
        null branch, or empty bytes), so the message can be kept without its images
        (:func:`skysift.alerts.model.Alert.without_cutouts`).

        Raises
        ------
        FastDecodeError
            On anything unexpected (any other exception is wrapped in it).
        """
        end = len(value)
        stream: io.BytesIO | None = None
        record: dict[str, Any] = {}
        p = start
        try:
            for kind, what, extra in self.steps:
                if kind == "avro":
                    if stream is None:
                        stream = io.BytesIO(value)
                    stream.seek(p)
                    # ``what`` is a record schema: the reader returns a dict
                    record.update(cast(dict[str, Any],
                                       fastavro.schemaless_reader(stream, what, None)))
                    p = stream.tell()
                elif kind == "history":
                    record[what], p = extra(value, p, end)
                else:
                    q = _skip_bytes(value, p, end, extra)
                    if spans is not None:
                        spans.append((p, q, b"\x02" if extra == (2, 0) else b"\x00"))
                    p = q
        except FastDecodeError:
            raise
        except Exception as exc:  # any failure means: decode the full way
            raise FastDecodeError(f"{type(exc).__name__}: {exc}") from exc
        if p != end:
            raise FastDecodeError(f"{end - p} bytes left over" if p < end else "past the end")
        return record


_lock = threading.Lock()
_readers: dict[tuple[int, bool], tuple[dict[str, Any], FastReader | None]] = {}


def fast_reader(parsed: dict[str, Any], complete: bool = False) -> FastReader | None:
    """The fast reader of a parsed writer schema, built once (None when it is not a record):
    the history projected, or ``complete`` (every field of it).

    Cached by the identity of ``parsed`` (schemas are parsed once per id and kept).
    """
    key = (id(parsed), complete)
    found = _readers.get(key)
    if found is not None and found[0] is parsed:
        return found[1]
    with _lock:
        found = _readers.get(key)
        if found is not None and found[0] is parsed:
            return found[1]
        reader = FastReader(parsed, complete) if parsed.get("type") == "record" else None
        _readers[key] = (parsed, reader)
        return reader
