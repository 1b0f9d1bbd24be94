"""Decode Rubin alerts in Kafka framing: ``0x00``, a 4-byte big-endian schema id, schemaless Avro.

Without a registry the id is ``100 * major + minor`` and the schema comes from lsst-alert-packet;
with one (``registry_url``) the id is the registry's. Either way the parsed schema is cached per
id, and the body is read with :func:`fastavro.schemaless_reader` (no per-alert schema work, no
copies), then normalised by :func:`skysift.alerts.normalise.normalise_lsst`.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import fastavro

from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.normalise import normalise_lsst
from skysift.alerts.schemas import schema_for_id, version_of_id
from skysift.errors import AlertDecodeError, UnknownSchemaError

__all__ = ["decode_message", "decode_body", "read_body", "split_frame", "MAGIC", "HEADER_SIZE"]

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


def decode_message(
    value: bytes, origin: AlertOrigin, *, registry_url: str | None = None
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

    Returns
    -------
    Alert

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
    if registry_url:
        from skysift.alerts.registry import registry_schema

        try:
            found = registry_schema(registry_url, sid)
        except UnknownSchemaError as exc:
            raise UnknownSchemaError(exc.message, **{**exc.where, **origin.as_where()}) from exc
        return decode_body(body, found.parsed, found.version, origin)
    try:
        parsed = schema_for_id(sid)
    except UnknownSchemaError as exc:
        raise UnknownSchemaError(exc.message, schema_id=sid, **origin.as_where()) from exc
    major, minor = version_of_id(sid)
    return decode_body(body, parsed, f"{major}.{minor}", origin)
