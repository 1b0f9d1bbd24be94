"""Decode Rubin alerts in Kafka framing: ``0x00``, a 4-byte big-endian schema id, schemaless Avro.

Without a registry the id is ``100 * major + minor`` and the schema comes from lsst-alert-packet;
with one (``registry_url``) the id is the registry's. Either way the parsed schema is cached per
id, then the record is normalised by :func:`skysift.alerts.normalise.normalise_lsst`.

By default the history is projected (:mod:`skysift.alerts.project`): ``prvDiaSources`` and
``prvDiaForcedSources`` items keep only the fields the pipeline reads, cutouts are stepped over,
and the Alert keeps the message (``raw``) with ``history_complete=False``; :func:`decode_full`
decodes it completely when a full record is needed. ``full=True`` decodes completely at once, with
the same generated reader keeping every field of the history (~2x faster than fastavro).
:func:`decode_with_fastavro` is the reference both are held to: :func:`fastavro.schemaless_reader`
reading every field. Errors are the same either way: whenever a fast reader meets anything
unexpected, the message is decoded by the reference, which raises.
"""

from __future__ import annotations

import io
import struct
import threading
from typing import Any

import fastavro

from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.alerts.project import FastDecodeError, fast_reader
from skysift.alerts.schemas import schema_for_id, version_of_id
from skysift.errors import AlertDecodeError, UnknownSchemaError
from skysift.alerts.registry import registry_schema

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "decode_body",
    "decode_full",
    "decode_message",
    "decode_record",
    "decode_with_fastavro",
    "read_body",
    "split_frame",
]

MAGIC = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">BI")
# What fastavro raises on bytes that do not follow the schema (besides EOFError for short input).
_CORRUPT = (ValueError, TypeError, IndexError, KeyError, OverflowError, MemoryError, struct.error)


def split_frame(value: bytes | None, origin: AlertOrigin) -> tuple[int, memoryview]:
    """The schema id and the Avro body of a framed message.

    Raises
    ------
    AlertDecodeError
        An empty or truncated message (shorter than the 5-byte header), or a first byte that is
        not ``0x00`` (not Rubin/Confluent framing).
    """
    where = origin.as_where()
    if not value:
        raise AlertDecodeError("empty message: no bytes to decode", **where)
    if value[0] != MAGIC:
        raise AlertDecodeError(
            f"corrupt message: first byte is 0x{value[0]:02x}, not the framing magic byte 0x00",
            **where,
        )
    if len(value) < HEADER_SIZE:
        raise AlertDecodeError(
            f"truncated message: {len(value)} bytes, shorter than the 5-byte framing header",
            **where,
        )
    _magic, sid = _HEADER.unpack_from(value)
    return sid, memoryview(value)[HEADER_SIZE:]


def read_body(
    body: bytes | memoryview, parsed_schema: dict[str, Any], label: str, origin: AlertOrigin
) -> dict[str, Any]:
    """Read one schemaless Avro record that must fill ``body`` exactly.

    Raises
    ------
    AlertDecodeError
        The body ends before the record does (truncated), does not follow the schema (corrupt),
        or has bytes left after the record (corrupt, or framed with the wrong schema id).
    """
    where = origin.as_where()
    stream = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(stream, parsed_schema, None)
    except EOFError as exc:
        raise AlertDecodeError(
            f"truncated message: the Avro body ({len(body)} bytes) ends before the "
            f"schema {label} record does",
            **where,
        ) from exc
    except UnicodeDecodeError as exc:
        raise AlertDecodeError(
            f"corrupt Avro body: a string field is not UTF-8 (schema {label}): {exc.reason}",
            **where,
        ) from exc
    except _CORRUPT as exc:
        if stream.tell() >= len(body):  # fastavro's varint reader fails this way at the end
            raise AlertDecodeError(
                f"truncated message: the Avro body ({len(body)} bytes) ends before the "
                f"schema {label} record does",
                **where,
            ) from exc
        raise AlertDecodeError(
            f"corrupt Avro body: bytes do not follow schema {label}: {exc}", **where
        ) from exc
    left = len(body) - stream.tell()
    if left:
        raise AlertDecodeError(
            f"corrupt message: {left} bytes left after the schema {label} record "
            "(wrong schema id, or not one alert)",
            **where,
        )
    if not isinstance(record, dict):
        raise AlertDecodeError(f"not an alert: schema {label} is not a record", **where)
    return record


def decode_body(
    body: bytes | memoryview, parsed_schema: dict[str, Any], version: str, origin: AlertOrigin
) -> Alert:
    """Read a schemaless Avro alert with a known parsed schema and normalise it."""
    return normalise_lsst(read_body(body, parsed_schema, version, origin), version, origin)


def _writer_schema(
    sid: int, registry_url: str | None, origin: AlertOrigin
) -> tuple[dict[str, Any], str]:
    """The parsed writer schema and version label of a schema id (cached by the callees)."""
    if registry_url:
        try:
            found = registry_schema(registry_url, sid)
        except UnknownSchemaError as exc:
            raise UnknownSchemaError(exc.message, **{**exc.where, **origin.as_where()}) from exc
        return found.parsed, found.version
    try:
        parsed = schema_for_id(sid)
    except UnknownSchemaError as exc:
        raise UnknownSchemaError(exc.message, schema_id=sid, **origin.as_where()) from exc
    major, minor = version_of_id(sid)
    return parsed, f"{major}.{minor}"


# Which schema source (registry URL, or None for lsst-alert-packet's ids) projected alerts of each
# schema id were decoded with, so decode_full can decode them again: one small entry per id.
_sources_lock = threading.Lock()
_sources: dict[int, set[str | None]] = {}


def _remember_source(sid: int, registry_url: str | None) -> None:
    seen = _sources.get(sid)
    if seen is None or registry_url not in seen:
        with _sources_lock:
            _sources.setdefault(sid, set()).add(registry_url)


def decode_record(value: bytes, origin: AlertOrigin, *,
                  registry_url: str | None = None) -> dict[str, Any]:
    """The whole Avro record of a Rubin-framed message, as sent (cutouts included), without
    normalising it."""
    sid, body = split_frame(value, origin)
    parsed, version = _writer_schema(sid, registry_url, origin)
    return read_body(body, parsed, version, origin)


def decode_message(
    value: bytes, origin: AlertOrigin, *, registry_url: str | None = None, full: bool = False
) -> Alert:
    """Decode one Rubin alert in Kafka framing.

    Parameters
    ----------
    value
        The message value: ``0x00``, the 4-byte big-endian schema id, the schemaless Avro body.
    origin
        Where it came from (topic/partition/offset, or a file); its fields go into errors.
    registry_url
        A Confluent schema registry: the id is then the registry's and the schema is fetched
        from it (once per id). Without it the id is ``100 * major + minor`` and the schema is
        lsst-alert-packet's.
    full
        Decode every field of the history too (as :func:`decode_full` does later). By default
        history items keep only :data:`skysift.alerts.project.HISTORY_FIELDS` and the Alert has
        ``history_complete=False`` (unless the history is empty, or its items have no other
        fields in this schema). Either way the alert equals :func:`decode_with_fastavro`'s
        (projected: its history items cut to the kept fields) and ``cutout_spans`` says where
        the images lie, unless the reference decoded it (an odd message the fast readers do
        not take).

    Returns
    -------
    Alert
        With ``raw`` set to ``value`` (as bytes) either way.

    Raises
    ------
    UnknownSchemaError
        Neither lsst-alert-packet nor the registry knows the schema id.
    AlertDecodeError
        Empty, truncated or corrupt bytes, or a record missing a required field.
    BrokerError
        The registry could not be reached (the message may be fine: do not dead-letter it).
    """
    sid, body = split_frame(value, origin)
    parsed, version = _writer_schema(sid, registry_url, origin)
    raw = value if isinstance(value, bytes) else bytes(value)
    reader = fast_reader(parsed, complete=full)
    if reader is not None:
        spans: list[tuple[int, int, bytes]] = []
        try:
            record = reader(raw, HEADER_SIZE, spans)
        except FastDecodeError:
            pass  # decode by the reference below: it raises the exact error, if there is one
        else:
            alert = normalise_lsst(record, version, origin)
            alert.raw = raw
            alert.cutout_spans = tuple(spans)
            if reader.projects and (alert.prvDiaSources or alert.prvDiaForcedSources):
                _remember_source(sid, registry_url)
                alert.history_complete = False
            return alert
    alert = decode_body(body, parsed, version, origin)
    alert.raw = raw
    return alert


def decode_with_fastavro(value: bytes, origin: AlertOrigin, *,
                         registry_url: str | None = None) -> Alert:
    """The reference decode: :func:`fastavro.schemaless_reader` reads every field, then the
    record is normalised. :func:`decode_message` falls back to it and is tested against it,
    value by value and error by error; it is slower (use :func:`decode_message`).

    Returns
    -------
    Alert
        Complete, with ``raw`` set and no ``cutout_spans``.
    """
    sid, body = split_frame(value, origin)
    parsed, version = _writer_schema(sid, registry_url, origin)
    alert = decode_body(body, parsed, version, origin)
    alert.raw = value if isinstance(value, bytes) else bytes(value)
    return alert


def decode_full(alert: Alert, *, registry_url: str | None = None) -> Alert:
    """The alert with every field of its history: decoded again from ``alert.raw`` when its
    history was projected (``history_complete`` False), else ``alert`` itself.

    Parameters
    ----------
    alert
        An alert from :func:`decode_message` (or ``read_alerts`` of a framed file).
    registry_url
        The registry it was decoded with; needed only when one process decodes the same schema
        id both with and without a registry (or with two registries). Otherwise the schema
        source the projected decode used is remembered per schema id.

    Returns
    -------
    Alert
        A new Alert, equal to ``decode_message(alert.raw, alert.origin, full=True)`` but for
        ``cutout_spans``, kept from ``alert``; nothing is cached.

    Raises
    ------
    ValueError
        The alert is projected but carries no ``raw`` bytes, or its schema source is ambiguous.
    AlertDecodeError, UnknownSchemaError, BrokerError
        As :func:`decode_message` (not expected: the bytes decoded once already).
    """
    if alert.history_complete:
        return alert
    if alert.raw is None:
        raise ValueError("alert history is projected but the alert keeps no raw bytes")
    sid, _body = split_frame(alert.raw, alert.origin)
    if registry_url is None:
        seen = _sources.get(sid, {None})
        if len(seen) > 1:
            raise ValueError(
                f"schema id {sid} was decoded from several schema sources "
                f"({', '.join(sorted(str(s) for s in seen))}): pass registry_url"
            )
        registry_url = next(iter(seen))
    full = decode_message(alert.raw, alert.origin, registry_url=registry_url, full=True)
    full.cutout_spans = alert.cutout_spans  # the same bytes: where the images lie is known
    return full
