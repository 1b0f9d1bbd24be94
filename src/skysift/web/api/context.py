"""``/api/watchlists/``, ``/api/watchmaps/`` and ``/api/gw/``: the context filters join.

- ``GET /api/watchlists/``: ``{"watchlists": [...]}``, yours and the public ones;
- ``POST /api/watchlists/``: ``name``, ``cones`` (Lasair's text: one ``ra, dec, name[, radius]``
  a line; or a JSON list of ``[ra, dec, name]`` / ``[ra, dec, name, radius]``; or an uploaded
  file of any form ``skysift watchlist add`` reads), optional ``radius`` (arcsec, default 2),
  ``description``, ``public``, ``active``; answers 201 with the watchlist and ``problems``
  (``[{"line": N, "error": "..."}]``, the lines left out);
- ``GET /api/watchlists/{id}/``: one watchlist (yours or public; others' private ones are 404)
  with its closest ``hits`` (``?limit=``, default 100);
- ``PATCH``/``PUT /api/watchlists/{id}/``: ``name``, ``description``, ``public``, ``active``,
  ``radius`` (owner only: 403 else); ``DELETE``: ``{"deleted": id}``;
- ``/api/watchmaps/`` the same, created from ``moc`` (a MOC as ASCII ``"3/1-5 4/"``, JSON
  ``{"3": [1, 2]}``, or an uploaded FITS/JSON file) or ``polygon`` (``[[ra, dec], ...]``);
- ``GET /api/gw/``: every registered gravitational-wave event; ``GET /api/gw/{superevent_id}/``:
  one, with its ``hits`` (lowest contour first).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response

from skysift.context.owned import Viewer
from skysift.context.upload import Cones, read_cones
from skysift.web.api.auth import ApiUser
from skysift.web.api.deps import ApiParams, Engine, SettingsDep
from skysift.web.api.params import Params, read_upload_params
from skysift.web.api.routing import ApiJSONResponse, api_router
from skysift.web.httperrors import BadInput
from skysift.web.throttles import throttle
from skysift.context.watchlists import list_watchlists
from skysift.context.watchlists import DEFAULT_RADIUS_ARCSEC, add_watchlist
from skysift.context.watchlists import get_watchlist, hits_of
from skysift.context.watchlists import set_watchlist
from skysift.context.watchlists import delete_watchlist
from skysift.context.watchmaps import list_watchmaps
from skysift.context import watchmaps as wm
from skysift.context.watchmaps import get_watchmap
from skysift.store.schema import area_hits
from skysift.context.watchmaps import set_watchmap
from skysift.context.watchmaps import delete_watchmap
from skysift.context.gw import list_events
from skysift.context.gw import get_event, hits_of_event

__all__ = ["router"]

router = api_router()
UploadParams = Annotated[Params, Depends(read_upload_params)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_TEXT = 90 << 20


def _cones(value: Any) -> Cones:
    if isinstance(value, dict) and "data" in value:  # an uploaded file
        return read_cones(value["data"], str(value.get("filename") or "upload"))
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise BadInput("cones is too long", field="cones")
        stripped = value.lstrip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except ValueError:
                raise BadInput("cones looks like JSON but does not parse", field="cones") from None
        else:
            return read_cones(value.encode(), "cones")
    if not isinstance(value, list):
        raise BadInput("cones must be text, a list of [ra, dec, name(, radius)] or a file",
                       field="cones")
    cones = Cones()
    for i, item in enumerate(value, start=1):
        if (not isinstance(item, (list, tuple)) or not 2 <= len(item) <= 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in (item[0], item[1]))):
            cones.problems.append((i, "expected [ra, dec, name(, radius)] with numbers"))
            continue
        radius = item[3] if len(item) == 4 else None
        if radius is not None and (
            not isinstance(radius, (int, float)) or isinstance(radius, bool)
        ):
            cones.problems.append((i, "radius must be a number (arcsec)"))
            continue
        cones.add(i, float(item[0]), float(item[1]), str(item[2]) if len(item) > 2 else "",
                  None if radius is None else float(radius))
    return cones


def _problems(cones: Cones) -> list[dict[str, Any]]:
    return [{"line": n, "error": msg} for n, msg in cones.problems[:1000]]


@router.get("/watchlists/", summary="Your watchlists and the public ones")
def watchlists(user: ApiUser, engine: Engine) -> Response:
    with engine.connect() as conn:
        found = list_watchlists(conn, Viewer(user.id))
    return ApiJSONResponse({"watchlists": [w.as_dict() for w in found]})


@router.post("/watchlists/", summary="Make a watchlist from cones", status_code=201)
def watchlist_create(request: Request, user: ApiUser, p: UploadParams, settings: SettingsDep,
                     engine: Engine) -> Response:
    name = p.text("name", max_len=100)
    if "cones" not in p:
        raise BadInput("cones is required", field="cones")
    radius = p.number("radius", lo=0, hi=1800, required=False, default=DEFAULT_RADIUS_ARCSEC)
    throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
             settings.api_rate_window_s, "Too many saves.")
    cones = _cones(p.values["cones"])
    with engine.begin() as conn:
        wl = add_watchlist(conn, user.id, name, cones, radius_arcsec=radius,
                           description=p.text("description", max_len=4000, required=False,
                                              allow_blank=True),
                           public=p.boolean("public", default=False),
                           active=p.boolean("active", default=True))
    return ApiJSONResponse({**wl.as_dict(), "problems": _problems(cones)}, status_code=201)


@router.get("/watchlists/{wl_id}/", summary="One watchlist with its closest hits")
def watchlist_read(wl_id: ItemId, user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    limit = p.integer("limit", lo=0, hi=10_000, required=False, default=100)
    with engine.connect() as conn:
        wl = get_watchlist(conn, wl_id, Viewer(user.id))
        hits = hits_of(conn, wl_id, limit=limit)
    return ApiJSONResponse({**wl.as_dict(), "hits": hits})


def _settings_changes(p: Params, *, radius: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in p:
        out["name"] = p.text("name", max_len=100)
    if "description" in p:
        out["description"] = p.text("description", max_len=4000, allow_blank=True)
    for key in ("public", "active"):
        if key in p:
            out[key] = p.boolean(key, default=False)
    if radius and "radius" in p:
        out["radius_arcsec"] = p.number("radius", lo=0, hi=1800)
    if not out:
        raise BadInput("nothing to change")
    return out


@router.put("/watchlists/{wl_id}/", summary="Change a watchlist (owner only)")
def watchlist_put(wl_id: ItemId, user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    return watchlist_update(wl_id, user, p, engine)


@router.patch("/watchlists/{wl_id}/", summary="Change a watchlist (owner only)")
def watchlist_update(wl_id: ItemId, user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    changes = _settings_changes(p, radius=True)
    with engine.begin() as conn:
        wl = set_watchlist(conn, wl_id, Viewer(user.id), **changes)
    return ApiJSONResponse(wl.as_dict())


@router.delete("/watchlists/{wl_id}/",
               summary="Delete a watchlist, its cones and hits (owner only)")
def watchlist_delete(wl_id: ItemId, user: ApiUser, engine: Engine) -> Response:
    with engine.begin() as conn:
        delete_watchlist(conn, wl_id, Viewer(user.id))
    return ApiJSONResponse({"deleted": wl_id})


# ------------------------------------------------------------------------------- watchmaps
@router.get("/watchmaps/", summary="Your watchmaps and the public ones")
def watchmaps(user: ApiUser, engine: Engine) -> Response:
    with engine.connect() as conn:
        found = list_watchmaps(conn, Viewer(user.id))
    return ApiJSONResponse({"watchmaps": [w.as_dict() for w in found]})


@router.post("/watchmaps/", summary="Make a watchmap from a MOC or a polygon", status_code=201)
def watchmap_create(request: Request, user: ApiUser, p: UploadParams, settings: SettingsDep,
                    engine: Engine) -> Response:
    name = p.text("name", max_len=100)
    if ("moc" in p) == ("polygon" in p):
        raise BadInput("give one of moc or polygon")
    throttle(request, f"save:{user.id}", settings.filter_save_rate_limit,
             settings.api_rate_window_s, "Too many saves.")
    if "moc" in p:
        value = p.values["moc"]
        if isinstance(value, dict) and "data" in value:
            moc = wm.read_moc(value["data"], str(value.get("filename") or "moc"))
        elif isinstance(value, str):
            moc = wm.read_moc(value.encode(), "moc")
        elif isinstance(value, dict):
            moc = wm.read_moc(json.dumps(value).encode(), "moc")
        else:
            raise BadInput("moc must be a MOC as text, JSON or a file", field="moc")
    else:
        value = p.values["polygon"]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise BadInput("polygon must be [[ra, dec], ...]", field="polygon") from None
        if (not isinstance(value, list) or len(value) > 10_000
                or not all(isinstance(v, list) and len(v) == 2 for v in value)):
            raise BadInput("polygon must be [[ra, dec], ...] (at most 10,000 vertices)",
                           field="polygon")
        moc = wm.moc_from_polygon([float(v[0]) for v in value], [float(v[1]) for v in value])
    with engine.begin() as conn:
        made = wm.add_watchmap(conn, user.id, name, moc,
                               description=p.text("description", max_len=4000, required=False,
                                                  allow_blank=True),
                               public=p.boolean("public", default=False),
                               active=p.boolean("active", default=True))
    return ApiJSONResponse(made.as_dict(), status_code=201)


@router.get("/watchmaps/{ar_id}/", summary="One watchmap with its number of hits")
def watchmap_read(ar_id: ItemId, user: ApiUser, engine: Engine) -> Response:
    import sqlalchemy as sa


    with engine.connect() as conn:
        made = get_watchmap(conn, ar_id, Viewer(user.id))
        hits = conn.execute(sa.select(sa.func.count()).select_from(area_hits)
                            .where(area_hits.c.ar_id == ar_id)).scalar_one()
    return ApiJSONResponse({**made.as_dict(), "hits": int(hits)})


@router.put("/watchmaps/{ar_id}/", summary="Change a watchmap (owner only)")
def watchmap_put(ar_id: ItemId, user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    return watchmap_update(ar_id, user, p, engine)


@router.patch("/watchmaps/{ar_id}/", summary="Change a watchmap (owner only)")
def watchmap_update(ar_id: ItemId, user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    changes = _settings_changes(p, radius=False)
    with engine.begin() as conn:
        made = set_watchmap(conn, ar_id, Viewer(user.id), **changes)
    return ApiJSONResponse(made.as_dict())


@router.delete("/watchmaps/{ar_id}/", summary="Delete a watchmap and its hits (owner only)")
def watchmap_delete(ar_id: ItemId, user: ApiUser, engine: Engine) -> Response:
    with engine.begin() as conn:
        delete_watchmap(conn, ar_id, Viewer(user.id))
    return ApiJSONResponse({"deleted": ar_id})


# ------------------------------------------------------------------------------------- gw
def _event_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@router.get("/gw/", summary="Every registered gravitational-wave event")
def gw_events(user: ApiUser, engine: Engine) -> Response:
    with engine.connect() as conn:
        return ApiJSONResponse({"events": [_event_json(e) for e in list_events(conn)]})


@router.get("/gw/{superevent_id}/", summary="One event with its hits, lowest contour first")
def gw_event(superevent_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_]+$")],
             user: ApiUser, p: ApiParams, engine: Engine) -> Response:
    limit = p.integer("limit", lo=0, hi=10_000, required=False, default=100)
    with engine.connect() as conn:
        event = get_event(conn, superevent_id)
        hits = hits_of_event(conn, superevent_id, limit=limit)
    return ApiJSONResponse({**_event_json(event), "hits": hits})
