"""Field renames between Rubin alert schema versions, mapped forward to the newest names.

The internal model uses the names of the newest schema lsst-alert-packet ships. Older versions
renamed fields in four waves (docs/alert-formats.md has the full table):

- 3.0/4.0 -> 5.0: ``decl`` -> ``dec``, ``midPointTai`` -> ``midpointMjdTai``, ``filterName`` ->
  ``band``, ``psFlux`` -> ``psfFlux``, ``dip*`` -> ``dipole*``, ``totFlux`` -> ``scienceFlux``,
  ``uPSFluxMean`` -> ``u_psfFluxMean``... (rules below, applied to the old schemas' names);
- 7.3 -> 8.0: ``is_negative`` -> ``isNegative``; the alert's ``alertId`` -> ``diaSourceId``;
- 8.0 -> 9.0: ``time_processed`` -> ``timeProcessedMjdTai`` and ``validityStart`` ->
  ``validityStartMjdTai`` (microsecond timestamps become MJD TAI);
- 9.0 -> 10.0: ``MPCORB`` -> ``mpc_orbits`` (and its fields), ``ssSource`` fields renamed.

Renaming is driven by the names present, not by the version label, so re-serialised alerts of
unknown version are mapped too. Each table is applied only when the first record of its kind
carries an old name, so current alerts pay one set intersection per record kind.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Callable

__all__ = [
    "ALERT_RENAMES",
    "SOURCE_RENAMES",
    "FORCED_RENAMES",
    "OBJECT_RENAMES",
    "SSSOURCE_RENAMES",
    "MPCORB_RENAMES",
    "TIME_FIELDS",
    "old_name_to_new",
    "rename_records",
    "timestamp_to_mjd_tai",
]

#: TAI - UTC in seconds, constant since 2017-01-01 (no leap second announced since).
TAI_MINUS_UTC_S = 37.0
_MJD_UNIX_EPOCH = 40587.0

ALERT_RENAMES: dict[str, str] = {"alertId": "diaSourceId", "MPCORB": "mpc_orbits"}

_WORDS = [
    (re.compile(r"Decl(?=$|[A-Z_])"), "Dec"),
    (re.compile(r"^decl(?=$|[A-Z_])"), "dec"),
    (re.compile(r"(^|_)ps(?=[A-Z])"), r"\1psf"),
    (re.compile(r"(^|_)dip(?=[A-Z])"), r"\1dipole"),
    (re.compile(r"^midPointTai$"), "midpointMjdTai"),
    (re.compile(r"^radecTai$"), "radecMjdTai"),
    (re.compile(r"^filterName$"), "band"),
    (re.compile(r"^totFlux"), "scienceFlux"),
    (re.compile(r"^is_negative$"), "isNegative"),
    (re.compile(r"^([ugrizy])PSFlux"), r"\1_psfFlux"),
    (re.compile(r"^([ugrizy])FPFlux"), r"\1_fpFlux"),
    (re.compile(r"^([ugrizy])Lc(Periodic|NonPeriodic)"), lambda m: f"{m[1]}_lc{m[2]}"),
]


def old_name_to_new(name: str) -> str:
    """The newest name of a diaSource/diaForcedSource/diaObject field of schema 3.0 to 7.4.

    >>> old_name_to_new("psFlux_psDecl_Cov"), old_name_to_new("uPSFluxMean")
    ('psfFlux_psfDec_Cov', 'u_psfFluxMean')
    """
    for pattern, repl in _WORDS:
        name = pattern.sub(repl, name)  # type: ignore[arg-type]
    return name


def _old_fields(record: str) -> list[str]:
    from skysift.alerts.schemas import available_versions, schema_definition

    names: list[str] = []
    for major, minor in available_versions():
        if major >= 5 and not (major == 7 and minor == 3):
            continue
        for field in schema_definition(major, minor)["fields"]:
            ftype = field["type"]
            inner = ftype[-1] if isinstance(ftype, list) else ftype
            if isinstance(inner, dict) and inner.get("type") == "array":
                inner = inner["items"]
            if isinstance(inner, dict) and inner.get("name", "").endswith("." + record):
                names.extend(f["name"] for f in inner["fields"])
    return names


def _derived(record: str) -> dict[str, str]:
    """Renames of one record kind, derived from the old schemas' field names by the rules."""
    return {old: new for old in _old_fields(record) if (new := old_name_to_new(old)) != old}


SOURCE_RENAMES: dict[str, str] = {**_derived("diaSource"), "time_processed": "timeProcessedMjdTai"}
FORCED_RENAMES: dict[str, str] = {
    **_derived("diaForcedSource"), "time_processed": "timeProcessedMjdTai"
}
OBJECT_RENAMES: dict[str, str] = {**_derived("diaObject"), "validityStart": "validityStartMjdTai"}

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

#: Renamed fields whose values change unit: microsecond timestamps (v8) to MJD TAI (v9+).
TIME_FIELDS = frozenset({"timeProcessedMjdTai", "validityStartMjdTai"})


def timestamp_to_mjd_tai(value: Any) -> Any:
    """A v8 ``timestamp-micros`` value (datetime, or int microseconds) as MJD TAI.

    >>> round(timestamp_to_mjd_tai(datetime(2025, 9, 5, tzinfo=timezone.utc)), 6)
    60923.000428
    """
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        seconds = aware.timestamp()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            return None  # the v8 samples use 0 for "not set"
        seconds = value / 1e6
    else:
        return value
    return _MJD_UNIX_EPOCH + (seconds + TAI_MINUS_UTC_S) / 86400.0


def _renamer(table: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    def rename(rec: dict[str, Any]) -> None:
        for old in table.keys() & rec.keys():
            new = table[old]
            value = rec.pop(old)
            if new in TIME_FIELDS:
                value = timestamp_to_mjd_tai(value)
            rec.setdefault(new, value)

    return rename


_RENAMERS = {id(t): _renamer(t) for t in
             (SOURCE_RENAMES, FORCED_RENAMES, OBJECT_RENAMES, SSSOURCE_RENAMES, MPCORB_RENAMES)}


def rename_records(records: list[dict[str, Any]], table: dict[str, str]) -> None:
    """Rename old fields in place in every record, if the first record has any old name.

    Records of one alert share one schema, so the first tells for all of them.
    """
    if not records or table.keys().isdisjoint(records[0].keys()):
        return
    rename = _RENAMERS.get(id(table)) or _renamer(table)
    for rec in records:
        rename(rec)
