"""The search page: a cone search (ra, dec, radius in arcsec), or go to an object by its id.

The search itself is :func:`skysift.search.cone.cone_search` (imported when used), the one the
REST API's ``/api/cone/`` uses too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from skysift.web.forms import parse_float, parse_int
from skysift.web.httperrors import BadInput
from skysift.web.templating import render
from skysift.search.cone import cone_search
from skysift.store.lightcurve import fetch_objects
from skysift.search.position import PositionError, parse_dec, parse_position, parse_ra

__all__ = ["MAX_SHOWN", "router"]

router = APIRouter(include_in_schema=False)
#: Most matches listed on the page.
MAX_SHOWN = 1000


def _max_radius() -> float:
    try:
        from skysift.search.cone import MAX_RADIUS_ARCSEC
    except ImportError:  # pragma: no cover - the module ships with the web site
        return 1000.0
    return float(MAX_RADIUS_ARCSEC)


def _search(request: Request, ra: float, dec: float, radius: float) -> list[dict[str, Any]]:
    with request.app.state.engine.connect() as conn:
        matches = cone_search(conn, ra, dec, radius)[:MAX_SHOWN]
        objs = fetch_objects(conn, [m.diaObjectId for m in matches])
    rows = []
    for m in matches:
        o = objs.get(m.diaObjectId, {})
        rows.append({"diaObjectId": m.diaObjectId, "separation": m.separation,
                     "ra": o.get("ra"), "decl": o.get("decl"), "nDiaSources": o.get("nDiaSources"),
                     "lastDiaSourceMjdTai": o.get("lastDiaSourceMjdTai"),
                     "latest_psfFlux": o.get("latest_psfFlux")})
    return rows


@router.get("/search")
def search(request: Request, ra: str = "", dec: str = "", radius: str = "",
           objectId: str = "", q: str = "") -> Response:
    """The search form, and its results when coordinates (or an object id) are given.

    ``q`` is Lasair's one search box: an object id, or a position in degrees or sexagesimal
    (``00:41:36.0 -45:12:00``, ``00h41m36s -45d12m00s``); ``ra`` and ``dec`` take either form too.
    """

    values = {"ra": ra, "dec": dec, "radius": radius or "5", "objectId": objectId, "q": q}
    max_radius = _max_radius()
    if q.strip():
        if q.strip().isdigit():
            objectId = q.strip()
        else:
            try:
                ra_q, dec_q = parse_position(q)
            except PositionError as exc:
                return render(request, "search.html", status=400, v=values, error=str(exc),
                              error_field="q", max_radius=max_radius)
            ra, dec = repr(ra_q), repr(dec_q)
    if objectId.strip():
        try:
            oid = parse_int(objectId, "objectId", lo=0, hi=2**63 - 1, label="object id")
        except BadInput as exc:
            return render(request, "search.html", status=400, v=values, error=exc.message,
                          max_radius=max_radius)
        return RedirectResponse(f"/objects/{oid}", status_code=303)
    if not (ra.strip() or dec.strip()):
        return render(request, "search.html", v=values, max_radius=max_radius)
    try:
        try:
            ra_v, dec_v = parse_ra(ra), parse_dec(dec)
        except PositionError as exc:
            raise BadInput(str(exc), field="ra" if str(exc).startswith("RA") else "dec") from exc
        rad_v = parse_float(radius or "5", "radius", lo=0.0, hi=max_radius,
                            label="radius (arcsec)")
        if not rad_v:
            raise BadInput("radius (arcsec) must be more than 0", field="radius")
    except BadInput as exc:
        return render(request, "search.html", status=400, v=values, error=exc.message,
                      error_field=getattr(exc, "field", None), max_radius=max_radius)
    assert ra_v is not None and dec_v is not None
    rows = _search(request, ra_v, dec_v, rad_v)
    return render(request, "search.html", v=values, rows=rows, searched=True,
                  max_radius=max_radius, shown=MAX_SHOWN)
