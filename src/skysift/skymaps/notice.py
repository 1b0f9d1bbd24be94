"""Decode an igwn.gwalert notice (JSON with base64 sky maps, or Avro with raw bytes).

The checks follow the igwn-gwalert-schema (1.3): what is needed to place the alert on disk
(``superevent_id``, ``alert_type``, ``time_created``) must be valid or the notice is rejected with
an :class:`~skysift.errors.AlertDecodeError`; every other deviation is recorded in
:attr:`Notice.problems` and the notice is processed as far as it can be.

JSON notices are validated against the official JSON Schema that the igwn-gwalert-schema package
ships (``igwn.alerts.Alert.schema.json``, draft 2020-12, with :mod:`jsonschema`), after the old
``EARLY_WARNING`` spelling is read as ``EARLYWARNING``; each violation becomes a problem
``schema: <where>: <what>``. Avro notices are checked the same way (their sky-map bytes standing
for JSON's base64 text): a schemaless one was read with the official Avro schema, but an Avro
container file carries a schema of its own.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from skysift.errors import AlertDecodeError

__all__ = [
    "ALERT_TYPES",
    "Notice",
    "decode_notice",
    "decode_notices",
    "normalise_alert_type",
    "parse_time",
    "schema_problems",
]

ALERT_TYPES = ("EARLYWARNING", "PRELIMINARY", "INITIAL", "UPDATE", "RETRACTION")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def normalise_alert_type(value: str) -> str:
    """``EARLY_WARNING``, ``early-warning`` and ``EarlyWarning`` all become ``EARLYWARNING``.

    >>> normalise_alert_type("early_warning")
    'EARLYWARNING'
    """
    return re.sub(r"[\s_-]", "", str(value)).upper()


def parse_time(value: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime (a trailing ``Z`` is accepted)."""
    dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass
class Notice:
    """One decoded notice.

    ``alert`` is the notice without sky-map bytes (what meta.yaml calls ALERT); ``skymap`` and
    ``combined_skymap`` are the FITS bytes, or None; ``raw`` is exactly what was received.
    """

    alert: dict[str, Any]
    superevent_id: str
    alert_type: str
    time_created: datetime
    event: dict[str, Any] | None
    external_coinc: dict[str, Any] | None
    skymap: bytes | None
    combined_skymap: bytes | None
    raw: bytes
    format: str
    problems: list[str] = field(default_factory=list)

    @property
    def is_mock(self) -> bool:
        """Mock (MDC) events have ids starting with M."""
        return self.superevent_id.startswith("M")

    @property
    def is_retraction(self) -> bool:
        return self.alert_type == "RETRACTION"

    @property
    def is_burst(self) -> bool:
        return self.event is not None and bool(self.event) \
            and str(self.event.get("group", "")).lower() == "burst"


_MAX_SCHEMA_PROBLEMS = 10


@lru_cache(maxsize=1)
def _json_validator() -> Any:
    from importlib.resources import files

    from jsonschema import Draft202012Validator

    text = files("igwn_gwalert_schema").joinpath("igwn.alerts.Alert.schema.json").read_text()
    return Draft202012Validator(json.loads(text))


def _explain(err: Any) -> list[tuple[list[Any], str]]:
    """(path, message) of what is wrong. For "not valid under any of the given schemas" (a field
    that may be null or an object), what is wrong inside the branch the value was meant for: the
    one whose type fits, every violation in it."""
    if not err.context:
        return [(list(err.absolute_path), err.message)]
    branches: dict[Any, list[Any]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = {k: subs for k, subs in branches.items()
               if not any(c.validator == "type" and not c.path for c in subs)}
    if not fitting:  # the value's type fits no branch: say which types would
        types = [c.validator_value for subs in branches.values() for c in subs
                 if c.validator == "type" and not c.path]
        names = " or ".join(repr(t) for t in types)
        return [(list(err.absolute_path), f"{err.instance!r:.60} is not of type {names}")]
    from jsonschema.exceptions import best_match

    chosen = best_match([c for subs in fitting.values() for c in subs])
    out = []
    for sub in fitting[chosen.relative_schema_path[0]]:
        out.extend(_explain(sub))
    return out


def schema_problems(record: dict[str, Any]) -> list[str]:
    """The official JSON Schema's verdicts on a notice (JSON or Avro), as
    ``schema: <where>: <what>`` (at most 10; values quoted in messages are shortened: a sky map
    is a megabyte of base64)."""
    doc = dict(record)
    if isinstance(doc.get("alert_type"), str):
        doc["alert_type"] = normalise_alert_type(doc["alert_type"])
    for part, key in (("event", "skymap"), ("external_coinc", "combined_skymap")):
        if isinstance(doc.get(part), dict) and isinstance(doc[part].get(key), (bytes, bytearray)):
            doc[part] = dict(doc[part], **{key: ""})  # Avro's raw bytes are JSON's base64 text
    found = [x for err in _json_validator().iter_errors(doc) for x in _explain(err)]
    found.sort(key=lambda x: list(map(str, x[0])))
    out = []
    for path, message in found[:_MAX_SCHEMA_PROBLEMS]:
        where = ".".join(str(p) for p in path) or "notice"
        message = message if len(message) <= 200 else message[:197] + "..."
        out.append(f"schema: {where}: {message}")
    if len(found) > _MAX_SCHEMA_PROBLEMS:
        out.append(f"schema: {len(found) - _MAX_SCHEMA_PROBLEMS} more violations")
    return out


@lru_cache(maxsize=1)
def _avro_schema() -> Any:
    from importlib.resources import files

    import fastavro

    text = files("igwn_gwalert_schema").joinpath("igwn.alerts.Alert.avsc").read_text()
    return fastavro.parse_schema(json.loads(text))


def _records(raw: bytes, where: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    head = raw.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            return [json.loads(raw)], "json"
        except (ValueError, UnicodeDecodeError) as exc:
            raise AlertDecodeError(f"notice is not valid JSON: {exc}", **where) from exc
    import fastavro

    if raw[:4] == b"Obj\x01":
        try:
            # igwn-gwalert records: each one reads as a dict
            return [cast(dict[str, Any], r) for r in fastavro.reader(io.BytesIO(raw))], "avro"
        except Exception as exc:  # fastavro raises many types on corrupt containers
            raise AlertDecodeError(f"notice is not a valid Avro container: {exc}", **where) from exc
    try:
        buf = io.BytesIO(raw)
        record = fastavro.schemaless_reader(buf, _avro_schema())
        if buf.tell() != len(raw):
            raise ValueError(f"{len(raw) - buf.tell()} trailing bytes")
        return [cast(dict[str, Any], record)], "avro"
    except Exception as exc:
        raise AlertDecodeError(f"notice is neither JSON nor igwn-gwalert Avro: {exc}",
                               **where) from exc


def _map_bytes(value: Any, what: str, problems: list[str]) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            problems.append(f"{what} is not valid base64: {exc}")
            return None
    problems.append(f"{what} has unexpected type {type(value).__name__}")
    return None


def _from_record(rec: Any, raw: bytes, fmt: str, where: dict[str, Any]) -> Notice:
    if not isinstance(rec, dict):
        raise AlertDecodeError("notice is not a JSON object", **where)
    problems: list[str] = []
    sid = rec.get("superevent_id")
    if not isinstance(sid, str) or not _ID.match(sid):
        raise AlertDecodeError(f"notice has no valid superevent_id: {sid!r}", **where)
    atype = rec.get("alert_type")
    if not isinstance(atype, str) or normalise_alert_type(atype) not in ALERT_TYPES:
        raise AlertDecodeError(f"notice has an unknown alert_type: {atype!r}", **where)
    try:
        created = parse_time(rec["time_created"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AlertDecodeError(f"notice has no valid time_created: {rec.get('time_created')!r}",
                               **where) from exc
    alert = dict(rec)
    problems.extend(schema_problems(rec))  # Avro too: a container carries its own schema
    event = alert.get("event")
    skymap = None
    if isinstance(event, dict):
        event = dict(event)
        skymap = _map_bytes(event.pop("skymap", None), "event.skymap", problems)
        alert["event"] = event
    else:
        event = None
    ext = alert.get("external_coinc")
    combined = None
    if isinstance(ext, dict):
        ext = dict(ext)
        combined = _map_bytes(ext.pop("combined_skymap", None), "external_coinc.combined_skymap",
                              problems)
        alert["external_coinc"] = ext
    else:
        ext = None
    if event is None and normalise_alert_type(atype) != "RETRACTION":
        problems.append(f"{atype} notice has no event")
    return Notice(alert=alert, superevent_id=sid, alert_type=normalise_alert_type(atype),
                  time_created=created, event=event, external_coinc=ext, skymap=skymap,
                  combined_skymap=combined, raw=raw, format=fmt, problems=problems)


def decode_notices(raw: bytes, **where: Any) -> list[Notice]:
    """Every notice in ``raw`` (an Avro container may hold several; JSON holds one)."""
    records, fmt = _records(bytes(raw), where)
    if not records:
        raise AlertDecodeError("notice container holds no record", **where)
    return [_from_record(rec, raw, fmt, where) for rec in records]


def decode_notice(raw: bytes, **where: Any) -> Notice:
    """Decode one notice; ``where`` (topic/partition/offset or path) goes into errors.

    Raises
    ------
    AlertDecodeError
        When the bytes are not a notice, or lack what is needed to file it.
    """
    notices = decode_notices(raw, **where)
    if len(notices) != 1:
        raise AlertDecodeError(f"expected one notice, found {len(notices)}", **where)
    return notices[0]
