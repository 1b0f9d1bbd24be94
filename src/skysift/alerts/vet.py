"""What an alert may carry: impossible values are refused, doubtful ones become NULL.

The rules, field by field (docs/alert-formats.md, "What is refused and what is stored as NULL"):

Refused: the alert is dead-lettered with the reason, naming the field. These values identify a
detection or place it in time and on the sky; with one of them wrong nothing about the alert
can be trusted, and storing it would corrupt its object's light curve.

- ids (``diaSourceId``, ``diaForcedSourceId``, ``diaObjectId``, ``ssObjectId``): an integer,
  0 < id < 2**63 (``diaObjectId``/``ssObjectId`` may be 0 or null: "none");
- ``midpointMjdTai``: a finite number within :data:`MJD_RANGE` (1950-01-01 to 2100-01-01);
- ``band``: one of u g r i z y, exactly;
- ``ra`` in [0, 360] and ``dec`` in [-90, 90] degrees, finite (diaSource, previous diaSources and
  the diaObject);
- the triggering diaSource's ``psfFlux``: a finite number with ``|psfFlux|`` <= :data:`FLUX_MAX`
  nJy (it is the measurement the alert exists for);
- any of these fields holding text or another non-number where a number belongs.

Stored as NULL: the alert is kept, the value in its column is NULL, and the batch line logs a
warning naming the alert and field (NaN alone is Rubin's "not measured" and becomes NULL without
a warning):

- fluxes of previous and forced sources that are infinite or beyond ``|f|`` > :data:`FLUX_MAX`;
- flux errors that are negative or infinite; ``reliability`` outside [0, 1]; infinite ``snr``;
- integer diaObject columns outside their column's range.

Examples
--------
>>> refusal({"diaSourceId": 5, "midpointMjdTai": 60924.3, "band": "r\\x00", "ra": 1.0, "dec": 2.0},
...         "diaSource")
"diaSource.band is 'r\\\\x00', not one of u g r i z y"
>>> soft_float("psfFluxErr", -3.0)
(None, 'psfFluxErr -3.0 is negative')
>>> soft_float("psfFlux", float("nan"))
(None, None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

__all__ = [
    "BANDS",
    "FLUX_MAX",
    "ID_MAX",
    "MJD_RANGE",
    "refusal",
    "soft_float",
    "soft_int",
    "storable",
    "trigger_refusal",
]

BANDS = frozenset({"u", "g", "r", "i", "z", "y"})
#: 64-bit signed ids: the largest the store's BIGINT columns (and Rubin's Avro ``long``) hold.
ID_MAX = 2**63 - 1
#: MJD 33282 = 1950-01-01, MJD 88069 = 2100-01-01 (TAI).
MJD_RANGE = (33282.0, 88069.0)
#: nJy; 1e14 nJy is AB magnitude -3.6, brighter than any star Rubin can measure.
FLUX_MAX = 1e14
_NUMBER = (int, float)
_ERROR_FIELDS = frozenset({"psfFluxErr", "apFluxErr", "scienceFluxErr"})


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> TypeGuard[float]:
    return type(value) in _NUMBER or (isinstance(value, _NUMBER) and not isinstance(value, bool))


def _id_problem(item: Mapping[str, Any], name: str, kind: str, *, zero_ok: bool) -> str | None:
    value = item.get(name)
    if value is None:
        return None if zero_ok else f"{kind}.{name} is missing"
    if type(value) is str and value.strip().lstrip("-").isdigit():
        value = int(value)  # JSON writers that keep 64-bit ids exact write them as text
    if type(value) is not int:
        return f"{kind}.{name} is {_show(value)}, not an integer id"
    if value < 0 or value > ID_MAX or (value == 0 and not zero_ok):
        return f"{kind}.{name} is {value}, outside 1..2**63-1"
    return None


def _range_problem(item: Mapping[str, Any], name: str, kind: str, lo: float, hi: float,
                   what: str) -> str | None:
    value = item.get(name)
    if not _is_number(value):
        if value is None:
            return f"{kind}.{name} is missing"
        return f"{kind}.{name} is {_show(value)}, not a number"
    if not lo <= value <= hi:  # False for NaN too
        return f"{kind}.{name} is {_show(value)}, {what}"
    return None


def storable(item: Mapping[str, Any], forced: bool) -> bool:
    """True when :func:`refusal` would find nothing, checked without building any message (the
    common case, on every new history item of a cold batch); False means "ask refusal why".

    >>> storable({"diaSourceId": 5, "midpointMjdTai": 60924.3, "band": "r", "ra": 1.0,
    ...           "dec": 2.0}, forced=False)
    True
    >>> storable({"diaSourceId": 5, "midpointMjdTai": 60924.3, "band": "r", "ra": 361.0,
    ...           "dec": 2.0}, forced=False)
    False
    """
    sid = item.get("diaForcedSourceId" if forced else "diaSourceId")
    oid = item.get("diaObjectId")
    mjd = item.get("midpointMjdTai")
    if not (type(sid) is int and 0 < sid <= ID_MAX and type(mjd) is float
            and MJD_RANGE[0] <= mjd <= MJD_RANGE[1] and item.get("band") in BANDS
            and (oid is None or (type(oid) is int and 0 <= oid <= ID_MAX))):
        return False
    if forced:
        return True
    ra, dec = item.get("ra"), item.get("dec")
    return type(ra) is float and 0.0 <= ra <= 360.0 and type(dec) is float and -90.0 <= dec <= 90.0


def refusal(item: Mapping[str, Any], kind: str) -> str | None:
    """Why a diaSource (``kind`` "diaSource"/"prvDiaSources[3]"...) or diaForcedSource
    (``kind`` starting with "prvDiaForcedSources") must be refused, or None when it may be stored.

    Checks the fields the store keeps as columns: ids, ``midpointMjdTai``, ``band`` and, for
    diaSources, ``ra``/``dec``.
    """
    forced = kind.startswith("prvDiaForcedSources")
    problem = _id_problem(item, "diaForcedSourceId" if forced else "diaSourceId", kind,
                          zero_ok=False)
    if problem is None:
        problem = _id_problem(item, "diaObjectId", kind, zero_ok=True)
    if problem is None:
        problem = _range_problem(item, "midpointMjdTai", kind, *MJD_RANGE,
                                 "outside MJD 33282-88069 (years 1950-2100)")
    if problem is None:
        band = item.get("band")
        if band not in BANDS:
            problem = f"{kind}.band is {_show(band)}, not one of u g r i z y"
    if problem is None and not forced:
        problem = (_range_problem(item, "ra", kind, 0.0, 360.0, "outside 0-360 degrees")
                   or _range_problem(item, "dec", kind, -90.0, 90.0, "outside -90..90 degrees"))
    return problem


def trigger_refusal(source: Mapping[str, Any], dia_object: Mapping[str, Any] | None) -> str | None:
    """Why an alert must be refused, judging its triggering diaSource and its diaObject."""
    problem = refusal(source, "diaSource") or _id_problem(source, "ssObjectId", "diaSource",
                                                          zero_ok=True)
    if problem is None:
        flux = source.get("psfFlux")
        if not _is_number(flux) or not -FLUX_MAX <= flux <= FLUX_MAX:
            problem = (f"diaSource.psfFlux is {_show(flux)}, not a finite flux within "
                       f"±{FLUX_MAX:g} nJy")
    if problem is None and dia_object is not None:
        problem = _id_problem(dia_object, "diaObjectId", "diaObject", zero_ok=True)
        if problem is None and (dia_object.get("ra") is not None
                                or dia_object.get("dec") is not None):
            problem = (_range_problem(dia_object, "ra", "diaObject", 0.0, 360.0,
                                      "outside 0-360 degrees")
                       or _range_problem(dia_object, "dec", "diaObject", -90.0, 90.0,
                                         "outside -90..90 degrees"))
    return problem


def soft_float(name: str, value: Any) -> tuple[float | None, str | None]:
    """A float column's value and a warning: NULL for NaN (no warning) and for impossible values
    (with a warning saying why). Non-numbers are impossible too."""
    if value is None:
        return None, None
    if not _is_number(value):
        return None, f"{name} {_show(value)} is not a number"
    value = float(value)
    if value != value:  # NaN: "not measured"
        return None, None
    if math.isinf(value):
        return None, f"{name} {value} is infinite"
    if name in _ERROR_FIELDS and value < 0:
        return None, f"{name} {value} is negative"
    if name == "reliability" and not 0.0 <= value <= 1.0:
        return None, f"{name} {value} is outside 0-1"
    if "Flux" in name and abs(value) > FLUX_MAX:
        return None, f"{name} {value:g} is beyond ±{FLUX_MAX:g} nJy"
    return value, None


def soft_int(name: str, value: Any, bits: int) -> tuple[int | None, str | None]:
    """An integer column's value and a warning: NULL when it does not fit a signed ``bits``-bit
    column, or is not an integer."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            return None, f"{name} {_show(value)} is not an integer"
    limit = 2 ** (bits - 1)
    if not -limit <= value < limit:
        return None, f"{name} {value} does not fit a {bits}-bit column"
    return value, None
