"""The object page: every attribute, the light curve (plotted in the browser), the sources.

The light curve is drawn by the Plotly bundle shipped in ``static/vendor`` (no CDN): the page
carries the points as JSON and ``static/lightcurve.js`` draws flux against time with error bars,
one colour per band, detections as filled circles and forced photometry as open ones. Without
JavaScript the source tables below show the same numbers.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from skysift.errors import SkysiftError
from skysift.store.columns import BANDS, BOOKKEEPING_COLUMNS, COLUMNS
from skysift.web.forms import parse_int
from skysift.web.httperrors import NotFound
from skysift.web.templating import render
from skysift.store.lightcurve import fetch_lightcurves, fetch_objects
from skysift.context.owned import Viewer
from skysift.web.pages.context import context_of_object
from skysift.web.sessions import current_user
from skysift.store.cutouts import cutout_store
from skysift.store.cutouts import KINDS, latest_cutouts
from skysift.store.cutouts import cutout_key, render_png

log = logging.getLogger(__name__)

__all__ = ["BAND_COLOURS", "ab_mag", "links_out", "plot_data", "positions", "router"]

router = APIRouter(include_in_schema=False)

#: One colour per band (colour-blind-safe where possible), shared with lightcurve.js via the page.
BAND_COLOURS = {"u": "#6a3d9a", "g": "#1b9e77", "r": "#d62728", "i": "#ff7f0e",
                "z": "#8c564b", "y": "#404040"}
SOURCE_COLUMNS = ("diaSourceId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr", "snr",
                  "reliability", "ra", "dec")
FORCED_COLUMNS = ("diaForcedSourceId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr")


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


#: AB magnitude zero point for fluxes in nJy: m = -2.5 log10(f / 3631 Jy) = -2.5 log10(f) + 31.4
AB_ZEROPOINT_NJY = 31.4
_MAG_ERR = 2.5 / math.log(10.0)


def ab_mag(flux_njy: Any, err_njy: Any = None) -> tuple[float | None, float | None]:
    """(AB magnitude, its error) of a flux in nJy; (None, None) when the flux is not positive.

    >>> m, e = ab_mag(3631e9); abs(m) < 1e-4, e   # 3631 Jy is AB 0 (31.4 rounds 31.40007)
    (True, None)
    >>> m, e = ab_mag(1000.0, 100.0); round(m, 4), round(e, 4)
    (23.9, 0.1086)
    """
    f, df = _num(flux_njy), _num(err_njy)
    if f is None or f <= 0:
        return None, None
    mag = round(-2.5 * math.log10(f) + AB_ZEROPOINT_NJY, 10)
    return mag, (None if df is None or df < 0 else _MAG_ERR * df / f)


def positions(ra: Any, dec: Any) -> dict[str, str] | None:
    """The header's coordinates: sexagesimal ICRS and galactic, or None without a position."""
    r, d = _num(ra), _num(dec)
    if r is None or d is None:
        return None
    from astropy.coordinates import SkyCoord

    c = SkyCoord(r, d, unit="deg")
    g = c.galactic
    return {"hms": c.ra.to_string(unit="hourangle", sep=":", precision=2, pad=True),
            "dms": c.dec.to_string(sep=":", precision=1, alwayssign=True, pad=True),
            "l": f"{g.l.deg:.5f}", "b": f"{g.b.deg:+.5f}"}


def links_out(ra: Any, dec: Any) -> list[tuple[str, str]]:
    """(name, URL) of the services an astronomer checks a position in, built from (ra, dec)."""
    from urllib.parse import quote, urlencode

    r, d = _num(ra), _num(dec)
    if r is None or d is None:
        return []
    pos = f"{r:.6f} {d:+.6f}"
    return [
        ("TNS", "https://www.wis-tns.org/search?" + urlencode(
            {"ra": f"{r:.6f}", "decl": f"{d:.6f}", "radius": "5", "coords_unit": "arcsec"})),
        ("SIMBAD", "https://simbad.cds.unistra.fr/simbad/sim-coo?" + urlencode(
            {"Coord": pos, "Radius": "5", "Radius.unit": "arcsec"})),
        ("NED", "https://ned.ipac.caltech.edu/conesearch?" + urlencode(
            {"search_type": "Near Position Search", "in_csys": "Equatorial",
             "in_equinox": "J2000", "ra": f"{r:.6f}", "dec": f"{d:.6f}", "radius": "0.1"})),
        ("Legacy Survey", "https://www.legacysurvey.org/viewer?" + urlencode(
            {"ra": f"{r:.6f}", "dec": f"{d:.6f}", "layer": "ls-dr10", "zoom": "16",
             "mark": f"{r:.6f},{d:.6f}"})),
        ("Aladin", "https://aladin.cds.unistra.fr/AladinLite/?target=" + quote(pos)
         + "&fov=0.02&survey=CDS%2FP%2FDSS2%2Fcolor"),
    ]


def plot_data(sources: list[dict[str, Any]], forced: list[dict[str, Any]]) -> dict[str, Any]:
    """Per band and kind, the points to plot: ``{"bands": [...], "series": [...]}``.

    Each series is ``{band, kind, colour, mjd, flux, err, mag, mag_err}``, kind ``detection``
    or ``forced``; ``mag`` is the AB magnitude (None where the flux is not positive). Points
    without a time or flux are left out.
    """
    series = []
    bands_seen: list[str] = []
    order = list(BANDS) + sorted({str(s.get("band")) for s in sources + forced} - set(BANDS))
    for band in order:
        for kind, records in (("detection", sources), ("forced", forced)):
            pts = [(_num(r.get("midpointMjdTai")), _num(r.get("psfFlux")),
                    _num(r.get("psfFluxErr")))
                   for r in records if str(r.get("band")) == band]
            pts = [p for p in pts if p[0] is not None and p[1] is not None]
            if not pts:
                continue
            if band not in bands_seen:
                bands_seen.append(band)
            mags = [ab_mag(p[1], p[2]) for p in pts]
            series.append({"band": band, "kind": kind, "colour": BAND_COLOURS.get(band, "#333"),
                           "mjd": [p[0] for p in pts], "flux": [p[1] for p in pts],
                           "err": [p[2] for p in pts], "mag": [m[0] for m in mags],
                           "mag_err": [m[1] for m in mags]})
    return {"bands": bands_seen, "series": series}


def _attributes(obj: dict[str, Any]) -> list[dict[str, Any]]:
    docs = {c.name: c for c in COLUMNS}
    out = []
    for name, value in obj.items():
        if name in BOOKKEEPING_COLUMNS:
            continue
        doc = docs.get(name)
        out.append({"name": name, "value": value, "unit": doc.unit if doc else "",
                    "meaning": doc.meaning if doc else ""})
    return out


@router.get("/objects/{object_id}")
def object_page(request: Request, object_id: str) -> Response:
    """Everything the store holds about one object."""

    oid = parse_int(object_id, "object id", lo=0, hi=2**63 - 1, label="an object id")

    with request.app.state.engine.connect() as conn:
        obj = fetch_objects(conn, [oid]).get(oid)
        lc = fetch_lightcurves(conn, [oid]).get(oid)
        context = context_of_object(conn, oid, Viewer.of(current_user(request)))
    if obj is None and lc is None:
        raise NotFound(f"the store has no object {oid}")
    obj = obj or {"diaObjectId": oid}
    dia_object = obj.get("diaObject")
    if isinstance(dia_object, str):
        try:
            dia_object = json.loads(dia_object)
        except ValueError:
            dia_object = None
    sources = lc.diaSources if lc else []
    forced = lc.diaForcedSources if lc else []
    return render(request, "object.html", oid=oid, obj=obj, attributes=_attributes(obj),
                  dia_object=dia_object if isinstance(dia_object, dict) else None,
                  sources=sources, forced=forced, source_columns=SOURCE_COLUMNS,
                  forced_columns=FORCED_COLUMNS, plot=plot_data(sources, forced),
                  updated=obj.get("updated"), context=context,
                  where=positions(obj.get("ra"), obj.get("decl")),
                  links=links_out(obj.get("ra"), obj.get("decl")), ab_mag=ab_mag,
                  cutouts=_cutouts(request, oid))


def _cutout_store(request: Request) -> Any:
    """The store cutouts are kept in (made once per app), or None when it cannot be used (the
    reason is logged; the object page shows no cutouts rather than failing)."""

    state = request.app.state
    if getattr(state, "cutout_store", None) is None:
        try:
            state.cutout_store = cutout_store(state.settings)
        except SkysiftError as exc:
            log.warning("cutouts cannot be shown: %s", exc)
            return None
    return state.cutout_store


def _cutouts(request: Request, oid: int) -> dict[str, Any] | None:
    """The newest detection's cutouts kept for the object (keep_cutouts), or None."""

    store = _cutout_store(request)
    try:
        found = latest_cutouts(store, oid) if store is not None else None
    except SkysiftError as exc:
        log.warning("cutouts of object %s cannot be listed: %s", oid, exc)
        return None
    if found is None:
        return None
    source_id, keys = found
    return {"source": source_id, "kinds": [k for k in KINDS if k in keys]}


@router.get("/objects/{object_id}/cutouts/{source_id}/{kind}.png")
def cutout_png(request: Request, object_id: str, source_id: str, kind: str) -> Response:
    """One kept cutout as a PNG scaled for viewing (zscale, asinh)."""

    oid = parse_int(object_id, "object id", lo=0, hi=2**63 - 1, label="an object id")
    sid = parse_int(source_id, "diaSourceId", lo=0, hi=2**63 - 1, label="a diaSourceId")
    if kind not in KINDS:
        raise NotFound(f"no cutout kind {kind!r}: science, template or difference")
    store = _cutout_store(request)
    data = store.get(cutout_key(oid, sid, kind)) if store is not None else None
    if data is None:
        raise NotFound(f"no {kind} cutout kept for diaSource {sid} of object {oid}")
    return Response(render_png(data), media_type="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})
