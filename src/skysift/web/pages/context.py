"""The context pages: watchlists, watchmaps and gravitational-wave events, each with a picture.

- ``/watchlists``: the lists you may see, and (logged in) a form to upload one; a list's page
  has its settings, a sky plot of its cones with its hits, and the hits (closest first);
- ``/watchmaps``: the same for sky areas, from a MOC file or a polygon;
- ``/gw``: every registered event with its status; an event's page has its latest map with
  the hits over-plotted, and the hits sorted by contour with t_gw, linked to their objects.

Who sees what is decided by skysift.context.owned: another user's private list or map answers
404 as if it did not exist.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from skysift.context.owned import Viewer
from skysift.errors import ContextError
from skysift.web.forms import parse_int, read_form, read_upload_form
from skysift.web.httperrors import BadInput
from skysift.web.sessions import current_user, require_user
from skysift.web.templating import flash, render
from skysift.context.watchlists import list_watchlists
from skysift.context.upload import read_cones
from skysift.context.watchlists import add_watchlist
from skysift.context.watchlists import get_watchlist, hits_of
from skysift.context.plot import render_cones
from skysift.context.watchlists import cones_of
from skysift.store.schema import objects, watchlist_hits
from skysift.context.watchlists import delete_watchlist
from skysift.context.watchlists import crossmatch_stored
from skysift.context.watchmaps import list_watchmaps
from skysift.context import watchmaps as wm
from skysift.context.watchmaps import get_watchmap
from skysift.context.plot import render_moc
from skysift.context.watchmaps import moc_of
from skysift.context.watchmaps import delete_watchmap
from skysift.context.gw import list_events
from skysift.context.gw import get_event, hits_of_event
from skysift.context.gw import latest_map
from skysift.skymaps.credible import credible_areas
from skysift.skymaps.multiorder import read_multiorder
from skysift.skymaps.plot import PlotOptions, render_skymap
from skysift.store.schema import gw_hits
from skysift.context.owned import visible_condition
from skysift.store.schema import area_hits, watchlists, watchmaps

__all__ = ["context_of_object", "router"]

router = APIRouter(include_in_schema=False)
PNG_HEADERS = {"Cache-Control": "private, max-age=60"}


def _viewer(request: Request) -> Viewer:
    return Viewer.of(current_user(request))


def _id(text: str, what: str) -> int:
    return parse_int(text, f"{what} id", lo=1, hi=2**31 - 1, label=f"a {what} id")


# -------------------------------------------------------------------------------- watchlists
@router.get("/watchlists")
def watchlists_page(request: Request) -> Response:
    from skysift.store.schema import watchlist_hits as h

    with request.app.state.engine.connect() as conn:
        rows = list_watchlists(conn, _viewer(request))
        hits = dict(conn.execute(sa.select(h.c.wl_id, sa.func.count()).group_by(h.c.wl_id)).all())
    return render(request, "watchlists.html", rows=rows, hits=hits)


@router.post("/watchlists")
async def watchlist_upload(request: Request) -> Response:
    user = require_user(request)
    form, upload = await read_upload_form(request, "file")
    name = form.text("name", max_len=100, required=True)
    radius = form.text("radius", max_len=20) or "2"
    try:
        radius_arcsec = float(radius)
    except ValueError:
        raise BadInput("radius must be a number of arcsec", field="radius") from None
    if upload is not None:
        cones = read_cones(upload[1], upload[0])
        source = upload[0]
    else:
        text = form.text("cones", max_len=10_000_000, strip=False)
        if not text.strip():
            raise BadInput("choose a file or paste cones", field="cones")
        cones = read_cones(text.encode(), "cones")
        source = "the pasted cones"
    with request.app.state.engine.begin() as conn:
        wl = add_watchlist(conn, user.id, name, cones, radius_arcsec=radius_arcsec,
                           description=form.text("description", max_len=4000),
                           public=form.flag("public"))
    message = f"Watchlist {wl.name}: {len(cones):,} cones kept."
    if cones.problems:
        message += (f" {len(cones.problems):,} lines left out: "
                    + "; ".join(f"line {n}: {m}" for n, m in cones.problems[:5])
                    + (" ..." if len(cones.problems) > 5 else "") + f" (in {source})")
    flash(request, message)
    return RedirectResponse(f"/watchlists/{wl.id}", status_code=303)


@router.get("/watchlists/{wl_id}")
def watchlist_page(request: Request, wl_id: str) -> Response:
    ident = _id(wl_id, "watchlist")
    viewer = _viewer(request)
    with request.app.state.engine.connect() as conn:
        wl = get_watchlist(conn, ident, viewer)
        hits = hits_of(conn, ident, limit=500)
    mine = viewer.is_admin or wl.user_id == viewer.user_id
    return render(request, "watchlist.html", wl=wl, hits=hits, mine=mine)


@router.get("/watchlists/{wl_id}/sky.png")
def watchlist_plot(request: Request, wl_id: str) -> Response:
    import numpy as np


    ident = _id(wl_id, "watchlist")
    with request.app.state.engine.connect() as conn:
        wl = get_watchlist(conn, ident, _viewer(request))
        cones = cones_of(conn, ident)
        hit_rows = conn.execute(
            sa.select(objects.c.ra, objects.c.decl).join(
                watchlist_hits, watchlist_hits.c.diaObjectId == objects.c.diaObjectId)
            .where(watchlist_hits.c.wl_id == ident).limit(10_000)).all()
    png = render_cones(cones.ra, cones.dec, f"{wl.name}: {wl.n_cones:,} cones",
                       hits=(np.asarray([r[0] for r in hit_rows]),
                             np.asarray([r[1] for r in hit_rows])))
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


@router.post("/watchlists/{wl_id}/delete")
async def watchlist_delete(request: Request, wl_id: str) -> Response:
    user = require_user(request)
    await read_form(request)
    with request.app.state.engine.begin() as conn:
        wl = delete_watchlist(conn, _id(wl_id, "watchlist"), Viewer.of(user))
    flash(request, f"Watchlist {wl.name} deleted.")
    return RedirectResponse("/watchlists", status_code=303)


@router.post("/watchlists/{wl_id}/crossmatch")
async def watchlist_crossmatch(request: Request, wl_id: str) -> Response:
    user = require_user(request)
    await read_form(request)
    ident = _id(wl_id, "watchlist")
    # every stored object: in a worker thread, never on the event loop
    hits = await run_in_threadpool(crossmatch_stored, request.app.state.engine, ident,
                                   Viewer.of(user), progress=False)
    flash(request, f"Matched against every stored object: {hits:,} hits.")
    return RedirectResponse(f"/watchlists/{ident}", status_code=303)


# --------------------------------------------------------------------------------- watchmaps
@router.get("/watchmaps")
def watchmaps_page(request: Request) -> Response:
    from skysift.store.schema import area_hits as h

    with request.app.state.engine.connect() as conn:
        rows = list_watchmaps(conn, _viewer(request))
        hits = dict(conn.execute(sa.select(h.c.ar_id, sa.func.count()).group_by(h.c.ar_id)).all())
    return render(request, "watchmaps.html", rows=rows, hits=hits)


@router.post("/watchmaps")
async def watchmap_upload(request: Request) -> Response:
    user = require_user(request)
    form, upload = await read_upload_form(request, "file")
    name = form.text("name", max_len=100, required=True)
    polygon = form.text("polygon", max_len=100_000)
    if (upload is None) == (not polygon):
        raise BadInput("choose a MOC file or give a polygon (one of them)", field="file")
    if upload is not None:
        moc = wm.read_moc(upload[1], upload[0])
    else:
        try:
            pairs = [tuple(float(v) for v in p.split(",")) for p in polygon.split()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError
        except ValueError:
            raise BadInput('a polygon is "ra1,dec1 ra2,dec2 ra3,dec3 ..." in degrees',
                           field="polygon") from None
        moc = wm.moc_from_polygon([p[0] for p in pairs], [p[1] for p in pairs])
    with request.app.state.engine.begin() as conn:
        made = wm.add_watchmap(conn, user.id, name, moc,
                               description=form.text("description", max_len=4000),
                               public=form.flag("public"))
    flash(request, f"Watchmap {made.name}: {made.area_deg2:,.4g} deg².")
    return RedirectResponse(f"/watchmaps/{made.id}", status_code=303)


@router.get("/watchmaps/{ar_id}")
def watchmap_page(request: Request, ar_id: str) -> Response:
    from skysift.store.schema import area_hits as h

    ident = _id(ar_id, "watchmap")
    viewer = _viewer(request)
    with request.app.state.engine.connect() as conn:
        made = get_watchmap(conn, ident, viewer)
        hits = [r[0] for r in conn.execute(sa.select(h.c.diaObjectId).where(h.c.ar_id == ident)
                                           .order_by(h.c.diaObjectId).limit(500))]
    mine = viewer.is_admin or made.user_id == viewer.user_id
    return render(request, "watchmap.html", wm=made, hits=hits, mine=mine)


@router.get("/watchmaps/{ar_id}/sky.png")
def watchmap_plot(request: Request, ar_id: str) -> Response:
    ident = _id(ar_id, "watchmap")
    with request.app.state.engine.connect() as conn:
        made = get_watchmap(conn, ident, _viewer(request))
        moc = moc_of(conn, ident)
    png = render_moc(moc, f"{made.name}: {made.area_deg2:,.4g} deg²")
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


@router.post("/watchmaps/{ar_id}/delete")
async def watchmap_delete(request: Request, ar_id: str) -> Response:
    user = require_user(request)
    await read_form(request)
    with request.app.state.engine.begin() as conn:
        made = delete_watchmap(conn, _id(ar_id, "watchmap"), Viewer.of(user))
    flash(request, f"Watchmap {made.name} deleted.")
    return RedirectResponse("/watchmaps", status_code=303)


# ---------------------------------------------------------------------------------------- gw
def _sid(text: str) -> str:
    if not (0 < len(text) <= 64 and text.replace("_", "").isalnum()):
        raise BadInput("not a superevent id", field="superevent_id")
    return text


@router.get("/gw")
def gw_page(request: Request) -> Response:
    with request.app.state.engine.connect() as conn:
        events = list_events(conn)
    return render(request, "gw_events.html", events=events)


@router.get("/gw/{superevent_id}")
def gw_event_page(request: Request, superevent_id: str) -> Response:
    sid = _sid(superevent_id)
    with request.app.state.engine.connect() as conn:
        event = get_event(conn, sid)
        hits = hits_of_event(conn, sid, limit=500)
    return render(request, "gw_event.html", event=event, hits=hits)


@router.get("/gw/{superevent_id}/skymap.png")
def gw_event_plot(request: Request, superevent_id: str) -> Response:
    import tempfile
    from pathlib import Path


    sid = _sid(superevent_id)
    with request.app.state.engine.connect() as conn:
        event = get_event(conn, sid)
        data = latest_map(conn, sid)
        marks = conn.execute(
            sa.select(objects.c.ra, objects.c.decl).join(
                gw_hits, gw_hits.c.diaObjectId == objects.c.diaObjectId)
            .where(gw_hits.c.superevent_id == sid).limit(5000)).all()
    if data is None:
        raise ContextError(f"{sid} has no sky map (retracted, or no notice carried one)")
    m = read_multiorder(data, where=sid)
    options = PlotOptions(title=f"{sid} ({event['alert_type']}, map {event['map_version']})",
                          areas=credible_areas(m, (0.5, 0.9)), galactic_plane=True,
                          marks=[(float(r[0]), float(r[1])) for r in marks if r[0] is not None],
                          marks_label="hits", width_px=800)
    with tempfile.TemporaryDirectory() as tmp:
        path = render_skymap(m, Path(tmp) / "map.png", options)
        png = path.read_bytes()
    return Response(png, media_type="image/png", headers=PNG_HEADERS)


# -------------------------------------------------------------------------- the object page
def context_of_object(conn: sa.Connection, oid: int, viewer: Viewer) -> dict[str, Any]:
    """The object's hits that ``viewer`` may see: watchlists, watchmaps, GW events."""

    lists = [dict(r._mapping) for r in conn.execute(
        sa.select(watchlists.c.id, watchlists.c.name.label("list"), watchlist_hits.c.name,
                  watchlist_hits.c.arcsec)
        .join(watchlists, watchlists.c.id == watchlist_hits.c.wl_id)
        .where(watchlist_hits.c.diaObjectId == oid, visible_condition(watchlists, viewer))
        .order_by(watchlist_hits.c.arcsec))]
    areas = [dict(r._mapping) for r in conn.execute(
        sa.select(watchmaps.c.id, watchmaps.c.name)
        .join(area_hits, area_hits.c.ar_id == watchmaps.c.id)
        .where(area_hits.c.diaObjectId == oid, visible_condition(watchmaps, viewer))
        .order_by(watchmaps.c.id))]
    events = [dict(r._mapping) for r in conn.execute(
        sa.select(gw_hits.c.superevent_id, gw_hits.c.contour, gw_hits.c.probdens2, gw_hits.c.t_gw)
        .where(gw_hits.c.diaObjectId == oid).order_by(gw_hits.c.contour))]
    return {"watchlists": lists, "watchmaps": areas, "gw": events}
