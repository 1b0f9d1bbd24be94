"""``/api/cone/``: the objects within a radius of a position (Lasair's shapes).

- ``requestType=nearest``: ``{"nearest": {"object": id, "separation": arcsec}}``, or ``{}``;
- ``requestType=count``: ``{"count": n}``;
- ``requestType=all`` (default): ``{"objects": [{"object", "separation"}...], "count": n,
  "nearest": {...} or {}}``, nearest first.

``ra`` in [0, 360], ``dec`` in [-90, 90] (degrees, or sexagesimal: ``00:41:36.0``, ``-45:12:00``,
``00h41m36s``), ``radius`` in arcseconds, > 0 and at most
1000 (Lasair's limit). The search itself is :func:`skysift.search.cone.cone_search`.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Response

from skysift.search.cone import MAX_RADIUS_ARCSEC, cone_search
from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine
from skysift.web.api.params import Params, openapi_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import BadInput
from skysift.search.position import PositionError, parse_dec, parse_ra

__all__ = ["cone_answer", "router"]

router = api_router()
REQUEST_TYPES = ("all", "nearest", "count")
SPECS = (
    ("ra", "number", "right ascension: degrees, 0 to 360, or hh:mm:ss", True),
    ("dec", "number", "declination: degrees, -90 to 90, or ±dd:mm:ss", True),
    ("radius", "number", "radius, arcseconds, above 0 and at most 1000", True),
    ("requestType", "string", "all (default), nearest or count", False),
)


def cone_answer(matches: list, request_type: str) -> dict[str, Any]:
    """Lasair's answer for ``matches`` (nearest first)."""
    items = [{"object": m.diaObjectId, "separation": m.separation} for m in matches]
    nearest = items[0] if items else {}
    if request_type == "count":
        return {"count": len(items)}
    if request_type == "nearest":
        return {"nearest": nearest} if items else {}
    return {"objects": items, "count": len(items), "nearest": nearest}


def _angle(p: Params, name: str) -> float:
    """``ra`` / ``dec``: a number in degrees, or sexagesimal text (``00:41:36.0``, ``-45d12m``)."""

    value = p.values.get(name)
    if isinstance(value, str) and re.search(r"[:°]|\d\s*[hdms]|\d\s+\d", value.strip()):
        try:
            return parse_ra(value) if name == "ra" else parse_dec(value)
        except PositionError as exc:
            raise BadInput(str(exc), field=name) from exc
    return p.number(name, lo=0.0, hi=360.0) if name == "ra" else p.number(name, lo=-90.0,
                                                                         hi=90.0)


def _cone(p: Params, engine) -> Response:
    ra = _angle(p, "ra")
    dec = _angle(p, "dec")
    radius = p.number("radius")
    if radius > MAX_RADIUS_ARCSEC:
        raise BadInput(f"Max radius is {MAX_RADIUS_ARCSEC:g} arcsec.", field="radius")
    if radius <= 0:
        raise BadInput("radius must be positive (arcseconds)", field="radius")
    request_type = p.choice("requestType", REQUEST_TYPES, default="all")
    with engine.connect() as conn:
        matches = cone_search(conn, ra, dec, radius)
    return ApiJSONResponse(cone_answer(matches, request_type))


@router.get("/cone/", summary="Cone search (Lasair's /api/cone/)",
            openapi_extra=openapi_params(*SPECS))
def cone_get(user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    """The objects within ``radius`` arcseconds of (ra, dec)."""
    return _cone(p, engine)


@router.post("/cone/", summary="Cone search (Lasair's /api/cone/)",
             openapi_extra=openapi_params(*SPECS, body=True))
def cone_post(user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    """As GET, with the arguments in a form or a JSON object."""
    return _cone(p, engine)
