"""The LSST adapter: one decoded Rubin alert record (any shipped version) -> :class:`Alert`.

The record's nested dicts are taken over, not copied (decoding already made them fresh), and old
field names are renamed in place to the newest ones (:mod:`skysift.alerts.renames`). Cutouts are
dropped. Everything at alert level that is not a core part of the model goes to ``Alert.extra``
under its newest name: ``observation_reason``, ``target_name``, ``ssSource``, ``mpc_orbits``, and
7.x's ``ssObject`` and ``prvDiaNondetectionLimits``, plus any field a re-serialiser added.
"""

from __future__ import annotations

from typing import Any

from skysift.alerts.model import Alert, AlertOrigin
from skysift.alerts.renames import (
    ALERT_RENAMES,
    MPCORB_RENAMES,
    SSSOURCE_RENAMES,
    record_renames,
    rename_records,
)
from skysift.errors import AlertDecodeError

__all__ = ["CUTOUT_FIELDS", "REQUIRED_SOURCE_FIELDS", "normalise_lsst"]

#: diaSource fields every alert must carry, non-null (newest names).
REQUIRED_SOURCE_FIELDS = ("midpointMjdTai", "band", "psfFlux", "ra", "dec")
CUTOUT_FIELDS = frozenset({"cutoutDifference", "cutoutScience", "cutoutTemplate"})
_CORE = frozenset(
    {"diaSourceId", "alertId", "diaSource", "prvDiaSources", "prvDiaForcedSources", "diaObject"}
)


def _as_id(value: Any, name: str, where: dict[str, Any]) -> int | None:
    """A 64-bit id as an exact int: ints pass, digit strings are parsed, floats are refused."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise AlertDecodeError(
        f"field {name} is not an integer id: {value!r} ({type(value).__name__}); "
        "64-bit ids must be exact integers",
        **where,
    )


def _record_list(value: Any, name: str, where: dict[str, Any]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise AlertDecodeError(f"field {name} is not a list of records", **where)
    return value


def normalise_lsst(record: dict[str, Any], schema_version: str, origin: AlertOrigin) -> Alert:
    """Turn one decoded Rubin alert record into an :class:`Alert`.

    Parameters
    ----------
    record
        The alert as decoded from Avro or JSON, in any shipped schema version. Its nested dicts
        are reused (and renamed in place), not copied.
    schema_version
        ``"major.minor"`` of the writer schema, or the re-serialiser's name; kept in the Alert.
    origin
        Where the record came from; its fields go into any error raised.

    Returns
    -------
    Alert
        With newest field names, no cutouts, ``survey="lsst"``.

    Raises
    ------
    AlertDecodeError
        A required field is missing or null: ``diaSourceId`` (``alertId`` before 8.0),
        ``diaSource``, an object id (``diaSource.diaObjectId``, ``diaSource.ssObjectId`` or
        ``diaObject.diaObjectId``), or one of ``diaSource.midpointMjdTai``, ``band``,
        ``psfFlux``, ``ra``, ``dec``. The message names the field.
    """
    where = origin.as_where()
    if not isinstance(record, dict):
        raise AlertDecodeError(
            f"not an alert: a {type(record).__name__} instead of a record/object", **where
        )
    source = record.get("diaSource")
    if not isinstance(source, dict):
        what = "missing" if source is None else f"not a record ({type(source).__name__})"
        raise AlertDecodeError(f"missing required field diaSource ({what})", **where)
    prv = _record_list(record.get("prvDiaSources"), "prvDiaSources", where)
    forced = _record_list(record.get("prvDiaForcedSources"), "prvDiaForcedSources", where)
    obj = record.get("diaObject")
    if obj is not None and not isinstance(obj, dict):
        raise AlertDecodeError("field diaObject is not a record", **where)

    source_renames = record_renames("diaSource")
    rename_records([source], source_renames)
    rename_records(prv, source_renames)
    rename_records(forced, record_renames("diaForcedSource"))
    if obj is not None:
        rename_records([obj], record_renames("diaObject"))

    top_id = record.get("diaSourceId", record.get("alertId"))
    dia_source_id = _as_id(top_id, "diaSourceId", where)
    if dia_source_id is None:
        dia_source_id = _as_id(source.get("diaSourceId"), "diaSource.diaSourceId", where)
    if dia_source_id is None:
        raise AlertDecodeError("missing required field diaSourceId", **where)
    for name in REQUIRED_SOURCE_FIELDS:
        if source.get(name) is None:
            state = "null" if name in source else "missing"
            raise AlertDecodeError(f"missing required field diaSource.{name} ({state})", **where)

    # Rubin writes 0 for "no object" in some versions: 0 and null both mean absent.
    dia_object_id = _as_id(source.get("diaObjectId"), "diaSource.diaObjectId", where) or None
    if dia_object_id is None and obj is not None:
        dia_object_id = _as_id(obj.get("diaObjectId"), "diaObject.diaObjectId", where) or None
    if obj is not None and dia_object_id is not None:
        # the alert's diaSource and history belong to its diaObject when their own id is
        # missing (lsst-alert-packet's schema 10 and 11 samples leave diaSource.diaObjectId null)
        for rec in (source, *prv, *forced):
            if isinstance(rec, dict) and not rec.get("diaObjectId"):
                rec["diaObjectId"] = dia_object_id
    ss_object_id = _as_id(source.get("ssObjectId"), "diaSource.ssObjectId", where) or None
    if dia_object_id is None and ss_object_id is None:
        raise AlertDecodeError(
            "missing required field diaSource.diaObjectId (or diaSource.ssObjectId): "
            "the alert names no object",
            **where,
        )

    extra: dict[str, Any] = {}
    for key, value in record.items():
        if key in _CORE or key in CUTOUT_FIELDS:
            continue
        extra[ALERT_RENAMES.get(key, key)] = value
    if isinstance(extra.get("mpc_orbits"), dict):
        rename_records([extra["mpc_orbits"]], MPCORB_RENAMES)
    if isinstance(extra.get("ssSource"), dict):
        rename_records([extra["ssSource"]], SSSOURCE_RENAMES)

    return Alert(
        diaSourceId=dia_source_id,
        diaObjectId=dia_object_id,
        diaSource=source,
        prvDiaSources=prv,
        prvDiaForcedSources=forced,
        diaObject=obj,
        extra=extra,
        schema_version=schema_version,
        survey="lsst",
        origin=origin,
    )
