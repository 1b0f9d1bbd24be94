"""Rubin alerts out again as bytes: a raw record in Kafka framing with an official schema.

``encode_wire`` is what the survey would put on Kafka: ``0x00``, the 4-byte big-endian id
``100 * major + minor``, then the record as schemaless Avro with lsst-alert-packet's schema of
that version. ``load_wire_record`` is its inverse for one framed file, giving the raw record (all
fields, cutouts included, original names) for publishing or for building synthetic alerts.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import fastavro

from skysift.alerts.decode import read_body, split_frame
from skysift.alerts.files import read_file_bytes
from skysift.alerts.model import AlertOrigin
from skysift.alerts.schemas import schema_for_id, schema_for_version, schema_id, version_of_id
from skysift.errors import AlertDecodeError, UnknownSchemaError

__all__ = ["encode_wire", "frame", "load_wire_record"]

_HEADER = struct.Struct(">BI")


def frame(sid: int, body: bytes) -> bytes:
    """``0x00`` + the 4-byte big-endian schema id + ``body``."""
    return _HEADER.pack(0, sid) + body


def encode_wire(record: dict[str, Any], major: int, minor: int) -> bytes:
    """Encode a raw alert record with the official schema ``major.minor`` in Rubin's framing.

    Parameters
    ----------
    record
        Field names and types of that schema version; fields with a default may be left out,
        fields the schema does not have are ignored.
    major, minor
        A version lsst-alert-packet ships.

    Returns
    -------
    bytes
        ``0x00``, id ``100 * major + minor`` (4 bytes, big-endian), the schemaless Avro body.

    Raises
    ------
    UnknownSchemaError
        The version is not shipped.
    AlertDecodeError
        The record does not fit the schema (a required field missing, a wrong type); the
        message names the schema and fastavro's reason.
    """
    schema = schema_for_version(major, minor)
    buf = io.BytesIO()
    try:
        fastavro.schemaless_writer(buf, schema, record)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, struct.error) as exc:
        raise AlertDecodeError(
            f"record does not fit schema lsst.v{major}_{minor}: {type(exc).__name__}: {exc}",
            schema_id=schema_id(major, minor),
        ) from exc
    return frame(schema_id(major, minor), buf.getvalue())


def load_wire_record(path: str | Path) -> tuple[dict[str, Any], int]:
    """The raw record and schema id of one alert file in Rubin's framing.

    Raises
    ------
    AlertDecodeError
        The file cannot be read, is not in framing, or its body is bad.
    UnknownSchemaError
        Its schema id is not one lsst-alert-packet ships.
    """
    origin = AlertOrigin(path=str(path))
    data = read_file_bytes(Path(path))
    if isinstance(data, AlertDecodeError):
        raise data
    sid, body = split_frame(data, origin)
    try:
        parsed = schema_for_id(sid)
    except UnknownSchemaError as exc:
        raise UnknownSchemaError(exc.message, schema_id=sid, **origin.as_where()) from exc
    major, minor = version_of_id(sid)
    return read_body(body, parsed, f"{major}.{minor}", origin), sid
