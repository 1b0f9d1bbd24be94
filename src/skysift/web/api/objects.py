"""``/api/object/``: everything the store knows of one object, shaped as Lasair's answer.

With ``lasair_added`` (default true)::

    {"diaObjectId": id,
     "diaObject": {...the stored diaObject record, with Lasair's ra, decl,
                   firstDiaSourceMjdTai, lastDiaSourceMjdTai...},
     "diaSourcesList": [...], "diaForcedSourcesList": [...],      (oldest first)
     "lasairData": {...skysift's columns of objects (less the four in diaObject), rasex, decsex,
                    ec_lon, ec_lat, now_mjd, mjdmin_ago, mjdmax_ago, disc*/latest*/peak*,
                    "sherlock": {}, "TNS": {}, "annotations": [], "imageUrls": []}}

Without it: ``{"diaObjectId", "diaObject", "diaSourcesList", "diaForcedSourcesList"}`` as stored.
``lite`` (default false) trims as Lasair: sources keep psfFlux, psfFluxErr, midpointMjdTai, band
and reliability (forced sources the first four), ``diaObject`` keeps only Lasair's four values
(and is left out without ``lasair_added``), and ``lasairData`` keeps only nDiaSources and glat.
``reliabilityThreshold`` drops detections whose reliability is below it (or unknown, when it is
above 0). An id the store does not know answers 404.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Response

from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import NotFound
from skysift.store.columns import COLUMNS
from skysift.streams.records import lite_block
from skysift.store.lightcurve import fetch_lightcurves, fetch_objects

__all__ = ["object_answer", "router"]

router = api_router()
SPECS = (
    ("objectId", "integer", "the diaObjectId", True),
    ("lite", "boolean", "less output (default false)", False),
    ("lasair_added", "boolean", "add skysift's values in lasairData (default true)", False),
    ("reliabilityThreshold", "number", "drop detections less reliable than this (default 0)",
     False),
)
IN_DIAOBJECT = ("ra", "decl", "firstDiaSourceMjdTai", "lastDiaSourceMjdTai")
LITE_LASAIR = ("nDiaSources", "glat")
_OBLIQUITY = math.radians(23.4392911)  # mean obliquity of the ecliptic, J2000


def _sex(value: float, hours: bool) -> str:
    """Sexagesimal text as Lasair shows it (``hh:mm:ss.sss`` or ``[-]dd:mm:ss.sss``)."""
    v = abs(value) / 15.0 if hours else abs(value)
    d = math.floor(v)
    m = math.floor((v - d) * 60)
    s = (v - d - m / 60.0) * 3600
    sign = "-" if value < 0 and not hours else ""
    return f"{sign}{d:02d}:{m:02d}:{s:06.3f}"


def _ecliptic(ra: float, dec: float) -> tuple[float, float]:
    """Ecliptic longitude and latitude (mean ecliptic of J2000), degrees."""
    a, d = math.radians(ra), math.radians(dec)
    ce, se = math.cos(_OBLIQUITY), math.sin(_OBLIQUITY)
    sin_b = math.sin(d) * ce - math.cos(d) * se * math.sin(a)
    lon = math.atan2(math.sin(a) * math.cos(d) * ce + math.sin(d) * se, math.cos(d) * math.cos(a))
    return math.degrees(lon) % 360.0, math.degrees(math.asin(max(-1.0, min(1.0, sin_b))))


def _utc(mjd: float) -> str | None:
    """UTC text of an MJD; None when it is not a date (NaN, or beyond years 1-9999).

    >>> _utc(60924.5)
    '2025-09-06 12:00:00'
    >>> _utc(1e300) is None and _utc(-1e9) is None
    True
    """
    try:
        return (datetime(1858, 11, 17) + timedelta(days=mjd)).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError):
        return None


def _flux_text(s: Mapping[str, Any]) -> str | None:
    f, e = s.get("psfFlux"), s.get("psfFluxErr")
    return (
        f"{f:.2f}±{e:.2f}" if isinstance(f, (int, float)) and isinstance(e, (int, float)) else None
    )


def _summary(sources: list[dict]) -> dict[str, Any]:
    """disc*/latest*/peak* of the detections (Lasair's names; fluxes in nJy as 'f±err')."""
    timed = [s for s in sources if isinstance(s.get("midpointMjdTai"), (int, float))]
    if not timed:
        return {}
    out: dict[str, Any] = {}
    with_flux = [s for s in timed if isinstance(s.get("psfFlux"), (int, float))]
    picks = {"disc": timed[0], "latest": timed[-1]}
    if with_flux:
        picks["peak"] = max(with_flux, key=lambda s: s["psfFlux"])
    for name, s in picks.items():
        out[f"{name}Mjd"] = s["midpointMjdTai"]
        out[f"{name}Utc"] = _utc(s["midpointMjdTai"])
        out[f"{name}Mag"] = _flux_text(s)
        out[f"{name}Filter"] = s.get("band")
    return out


def _lasair_data(row: Mapping[str, Any], sources: list[dict], lite: bool) -> dict[str, Any]:
    names = LITE_LASAIR if lite else tuple(c.name for c in COLUMNS if c.name not in IN_DIAOBJECT)
    data: dict[str, Any] = {n: row.get(n) for n in names if n != "diaObjectId"}
    ra, dec = row.get("ra"), row.get("decl")
    if not lite and ra is not None and dec is not None:
        data["rasex"], data["decsex"] = _sex(ra, True), _sex(dec, False)
        data["ec_lon"], data["ec_lat"] = _ecliptic(ra, dec)
        now = time.time() / 86400 + 40587.0
        data["now_mjd"] = f"{now:.2f}"
        for key, col in (("mjdmin_ago", "firstDiaSourceMjdTai"),
                         ("mjdmax_ago", "lastDiaSourceMjdTai")):
            data[key] = now - row[col] if row.get(col) is not None else None
        data.update(_summary(sources))
    data.update(sherlock={}, TNS={}, annotations=[], imageUrls=[])
    return data


def object_answer(row: Mapping[str, Any], sources: list[dict], forced: list[dict], *,
                  lite: bool, lasair_added: bool, reliability_threshold: float) -> dict[str, Any]:
    """Lasair's object answer from an ``objects`` row and the stored payloads (oldest first)."""

    if reliability_threshold > 0:
        sources = [s for s in sources if isinstance(s.get("reliability"), (int, float))
                   and s["reliability"] >= reliability_threshold]
    stored = row.get("diaObject")
    dia_object = json.loads(stored) if isinstance(stored, str) else dict(stored or {})
    lasair_four = {k: row.get(k) for k in IN_DIAOBJECT}
    if lite:
        block = lite_block(sources, forced)
        src_list, forced_list = block["diaSourcesList"], block["diaForcedSourcesList"]
    else:
        src_list, forced_list = sources, forced
    out: dict[str, Any] = {"diaObjectId": int(row["diaObjectId"])}
    if lasair_added:
        out["diaObject"] = lasair_four if lite else {**dia_object, **lasair_four}
    elif not lite:
        out["diaObject"] = dia_object
    out["diaSourcesList"] = src_list
    out["diaForcedSourcesList"] = forced_list
    if lasair_added:
        out["lasairData"] = _lasair_data(row, sources, lite)
    return out


def _object(p: Params, engine) -> Response:
    oid = p.integer("objectId", lo=0, hi=2**63 - 1)
    lite = p.boolean("lite", default=False)
    lasair_added = p.boolean("lasair_added", default=True)
    threshold = p.number("reliabilityThreshold", lo=0.0, hi=1.0, required=False, default=0.0)
    with engine.connect() as conn:
        row = fetch_objects(conn, [oid]).get(oid)
        if row is None:
            raise NotFound(f"object {oid} is not in the store", field="objectId")
        lc = fetch_lightcurves(conn, [oid]).get(oid)
    sources = list(lc.diaSources) if lc else []
    forced = list(lc.diaForcedSources) if lc else []
    return ApiJSONResponse(object_answer(row, sources, forced, lite=lite,
                                         lasair_added=lasair_added,
                                         reliability_threshold=threshold))


@router.get("/object/", summary="One object, its light curve and skysift's values "
            "(Lasair's /api/object/)", openapi_extra=openapi_params(*SPECS))
def object_get(user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    """The object ``objectId``: diaObject, diaSourcesList, diaForcedSourcesList, lasairData."""
    return _object(p, engine)


@router.post("/object/", summary="One object, its light curve and skysift's values "
             "(Lasair's /api/object/)", openapi_extra=openapi_params(*SPECS, body=True))
def object_post(user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    """As GET, with the arguments in a form or a JSON object."""
    return _object(p, engine)
