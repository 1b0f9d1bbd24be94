"""Field renames between Rubin alert schema versions, mapped forward to the newest names.

The internal model uses the names of the newest schema lsst-alert-packet ships. Older versions
renamed fields in four waves (docs/alert-formats.md has the full table):

- 3.0/4.0 -> 5.0: ``decl`` -> ``dec``, ``midPointTai`` -> ``midpointMjdTai``, ``filterName`` ->
  ``band``, ``psFlux`` -> ``psfFlux``, ``dip*`` -> ``dipole*``, ``totFlux`` -> ``scienceFlux``,
  ``uPSFluxMean`` -> ``u_psfFluxMean``... (rules of :func:`old_name_to_new`, applied to the old
  schemas' own field names);
- 7.3 -> 8.0: ``is_negative`` -> ``isNegative``; the alert's ``alertId`` -> ``diaSourceId``;
- 8.0 -> 9.0: ``time_processed`` -> ``timeProcessedMjdTai`` and ``validityStart`` ->
  ``validityStartMjdTai`` (microsecond timestamps become MJD TAI);
- 9.0 -> 10.0: ``MPCORB`` -> ``mpc_orbits`` (and its fields), ``ssSource`` fields renamed.

Renaming is driven by the names present, not by the version label, so re-serialised alerts of
unknown version are mapped too. A table is applied to a list of records only when the first one
carries an old name, so current alerts pay one set intersection per record kind.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, UTC
from functools import cache
from typing import Any
from skysift.alerts.schemas import _schema_root, available_versions, schema_definition

__all__ = [
    "ALERT_RENAMES",
    "MPCORB_RENAMES",
    "SSSOURCE_RENAMES",
    "TIME_FIELDS",
    "old_name_to_new",
    "record_renames",
    "rename_records",
    "timestamp_to_mjd_tai",
]

#: TAI - UTC in seconds, constant since 2017-01-01.
TAI_MINUS_UTC_S = 37.0
_MJD_UNIX_EPOCH = 40587.0

#: Alert-level renames. ``ssObject`` and ``prvDiaNondetectionLimits`` (7.x) keep their names and
#: go to ``Alert.extra``.
ALERT_RENAMES: dict[str, str] = {"alertId": "diaSourceId", "MPCORB": "mpc_orbits"}

_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"Decl(?=$|[A-Z_])"), "Dec"),
    (re.compile(r"(^|_)decl(?=$|[A-Z_])"), r"\1dec"),
    (re.compile(r"(^|_)ps(?=[A-Z])"), r"\1psf"),
    (re.compile(r"(^|_)dip(?=[A-Z])"), r"\1dipole"),
    (re.compile(r"^midPointTai$"), "midpointMjdTai"),
    (re.compile(r"^radecTai$"), "radecMjdTai"),
    (re.compile(r"^filterName$"), "band"),
    (re.compile(r"^totFlux"), "scienceFlux"),
    (re.compile(r"^is_negative$"), "isNegative"),
    (re.compile(r"^([ugrizy])PSFlux"), r"\1_psfFlux"),
    (re.compile(r"^([ugrizy])FPFlux"), r"\1_fpFlux"),
    (re.compile(r"^([ugrizy])Lc(Periodic|NonPeriodic)"), r"\1_lc\2"),
]

SSSOURCE_RENAMES: dict[str, str] = {
    "eclipticLambda": "eclLambda",
    "eclipticBeta": "eclBeta",
    "galacticL": "galLon",
    "galacticB": "galLat",
    "heliocentricDist": "helioRange",
    "topocentricDist": "topoRange",
    "predictedVMagnitude": "ephVmag",
    "residualRa": "ephOffsetRa",
    "residualDec": "ephOffsetDec",
    **{f"heliocentric{a.upper()}": f"helio_{a}" for a in ("x", "y", "z", "vx", "vy", "vz")},
    **{f"topocentric{a.upper()}": f"topo_{a}" for a in ("x", "y", "z", "vx", "vy", "vz")},
}

MPCORB_RENAMES: dict[str, str] = {
    "mpcDesignation": "designation",
    "mpcH": "h",
    "epoch": "epoch_mjd",
    "M": "mean_anomaly",
    "peri": "argperi",
    "incl": "i",
    "t_p": "peri_time",
}

#: Renamed fields whose values change unit: microsecond timestamps (8.0) to MJD TAI (9.0+).
TIME_FIELDS = frozenset({"timeProcessedMjdTai", "validityStartMjdTai"})


def old_name_to_new(name: str) -> str:
    """The newest name of a diaSource/diaForcedSource/diaObject field of schema 3.0 to 7.4.

    >>> old_name_to_new("psFlux_psDecl_Cov"), old_name_to_new("uPSFluxMean")
    ('psfFlux_psfDec_Cov', 'u_psfFluxMean')
    """
    for pattern, repl in _RULES:
        name = pattern.sub(repl, name)
    return name


def _old_fields(kind: str) -> list[str]:
    """The field names of ``kind`` records in the old schemas (3.0 to 7.4), in schema order.

    Read from each version's own ``lsst.vM_m.<kind>.avsc`` as plain JSON where it is shipped (it
    is for every old version; ~30x faster than expanding the whole alert schema with fastavro,
    which matters at a worker's start), else from the expanded alert schema."""
    names: list[str] = []
    for major, minor in available_versions():
        if major >= 8:
            continue
        own = _schema_root() / str(major) / str(minor) / f"lsst.v{major}_{minor}.{kind}.avsc"
        if own.is_file():
            record = json.loads(own.read_text(encoding="utf-8"))
            if isinstance(record, dict) and record.get("type") == "record":
                names.extend(f["name"] for f in record["fields"])
                continue
        for field in schema_definition(major, minor)["fields"]:
            ftype = field["type"]
            inner = ftype[-1] if isinstance(ftype, list) else ftype
            if isinstance(inner, dict) and inner.get("type") == "array":
                inner = inner["items"]
            if isinstance(inner, dict) and str(inner.get("name", "")).endswith("." + kind):
                names.extend(f["name"] for f in inner["fields"])
    return names


@cache
def record_renames(kind: str) -> dict[str, str]:
    """Renames of ``diaSource``, ``diaForcedSource`` or ``diaObject`` fields, old -> newest.

    Derived once from the field names of the old schemas (3.0 to 7.4) by the rules of
    :func:`old_name_to_new`, plus the 8.0 -> 9.0 timestamp renames.
    """
    table = {old: new for old in _old_fields(kind) if (new := old_name_to_new(old)) != old}
    if kind in ("diaSource", "diaForcedSource"):
        table["time_processed"] = "timeProcessedMjdTai"
    elif kind == "diaObject":
        table["validityStart"] = "validityStartMjdTai"
    return table


def timestamp_to_mjd_tai(value: Any) -> Any:
    """An 8.0 ``timestamp-micros`` value (datetime, or int microseconds) as MJD TAI.

    ``0`` (the 8.0 samples' "not set") becomes None; other values are returned unchanged.

    >>> round(timestamp_to_mjd_tai(datetime(2025, 9, 5, tzinfo=UTC)), 6)
    60923.000428
    """
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        seconds = aware.timestamp()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            return None
        seconds = value / 1e6
    else:
        return value
    return _MJD_UNIX_EPOCH + (seconds + TAI_MINUS_UTC_S) / 86400.0


def rename_records(records: list[dict[str, Any]], table: dict[str, str]) -> None:
    """Rename old fields in place in every record, if the first record has any old name.

    Records of one kind in one alert share one schema, so the first tells for all of them.
    A new name already present wins over the old one.
    """
    if not records or table.keys().isdisjoint(records[0].keys()):
        return
    for rec in records:
        for old in table.keys() & rec.keys():
            new = table[old]
            value = rec.pop(old)
            if new in TIME_FIELDS:
                value = timestamp_to_mjd_tai(value)
            rec.setdefault(new, value)
