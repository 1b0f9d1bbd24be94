"""``skysift watchlist ...``, ``skysift watchmap ...`` and ``skysift gw ...``: the context that
filters can join (docs/context.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from skysift.cli.context import Context, pass_ctx

__all__ = ["gw", "tns", "watchlist", "watchmap"]


def _viewer(conn, user: str | None):
    """The CLI is the operator's: it sees everything, unless --user names whose view to take."""
    from skysift.accounts import get_user
    from skysift.context.owned import Viewer

    if user is None:
        return Viewer(None, is_admin=True)
    return Viewer.of(get_user(conn, user))


# ------------------------------------------------------------------------------- watchlists
@click.group("watchlist")
def watchlist() -> None:
    """Watchlists: cones (position, radius) that every batch is crossmatched against."""


@watchlist.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "user_name", required=True, help="The owner.")
@click.option("--name", required=True, help="The watchlist's name.")
@click.option("--radius", type=float, default=None,
              help="Default cone radius in arcsec, for cones without their own (default 2).")
@click.option("--description", default="", help="What the list is.")
@click.option("--public", is_flag=True,
              help="Everyone may use it in filters (else only the owner).")
@click.option("--inactive", is_flag=True, help="Keep it, but do not match new alerts against it.")
@pass_ctx
def wl_add(ctx: Context, file: Path, user_name: str, name: str, radius: float | None,
           description: str, public: bool, inactive: bool) -> None:
    """Make a watchlist from FILE and print its id.

    FILE is Lasair's text (one cone a line: ra, dec, name[, radius]; comma or | separated; #
    comments) or a table astropy reads (CSV with a header, ECSV, FITS, VOTable). Bad lines
    are reported by number and left out; the good ones are kept.
    """
    from skysift.accounts import get_user
    from skysift.cli._common import store
    from skysift.context.upload import read_cones
    from skysift.context.watchlists import DEFAULT_RADIUS_ARCSEC, add_watchlist

    cones = read_cones(file)
    if cones.problems:
        click.echo(cones.problem_text(str(file)), err=True)
    with store(ctx.settings).begin() as conn:
        wl = add_watchlist(conn, get_user(conn, user_name).id, name, cones,
                           radius_arcsec=DEFAULT_RADIUS_ARCSEC if radius is None else radius,
                           description=description, public=public, active=not inactive)
    click.echo(f"{len(cones):,} cones kept, {len(cones.problems):,} lines refused", err=True)
    click.echo(wl.id)


@watchlist.command("list")
@click.option("--user", default=None, help="Only what this user sees (theirs and public ones).")
@pass_ctx
def wl_list(ctx: Context, user: str | None) -> None:
    """Every watchlist, with its owner, cones and hits."""
    import sqlalchemy as sa

    from skysift.cli._common import print_table, store
    from skysift.context.watchlists import list_watchlists
    from skysift.store.schema import watchlist_hits as h

    with store(ctx.settings).connect() as conn:
        found = list_watchlists(conn, _viewer(conn, user))
        hits = dict(conn.execute(sa.select(h.c.wl_id, sa.func.count()).group_by(h.c.wl_id)).all())
    print_table([{"id": w.id, "name": w.name, "owner": w.user_name, "public": w.public,
                  "active": w.active, "radius": w.radius_arcsec, "cones": w.n_cones,
                  "hits": hits.get(w.id, 0)} for w in found],
                ["id", "name", "owner", "public", "active", "radius", "cones", "hits"])


@watchlist.command("show")
@click.argument("wl_id", type=int)
@click.option("--user", default=None, help="As this user sees it.")
@click.option("--hits", "n_hits", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many hits to print (closest first).")
@pass_ctx
def wl_show(ctx: Context, wl_id: int, user: str | None, n_hits: int) -> None:
    """A watchlist's settings and its closest hits."""
    from skysift.cli._common import print_table, store
    from skysift.context.watchlists import get_watchlist, hits_of

    with store(ctx.settings).connect() as conn:
        wl = get_watchlist(conn, wl_id, _viewer(conn, user))
        hits = hits_of(conn, wl_id, limit=n_hits)
    for key, value in wl.as_dict().items():
        click.echo(f"{key:12} {value}")
    click.echo("")
    print_table(hits, ["diaObjectId", "cone_id", "name", "arcsec"])


@watchlist.command("delete")
@click.argument("wl_id", type=int)
@pass_ctx
def wl_delete(ctx: Context, wl_id: int) -> None:
    """Delete a watchlist, its cones and its hits."""
    from skysift.cli._common import store
    from skysift.context.watchlists import delete_watchlist

    with store(ctx.settings).begin() as conn:
        wl = delete_watchlist(conn, wl_id, _viewer(conn, None))
    click.echo(f"deleted watchlist {wl.id} ({wl.name})")


@watchlist.command("crossmatch")
@click.argument("wl_id", type=int)
@pass_ctx
def wl_crossmatch(ctx: Context, wl_id: int) -> None:
    """Match a watchlist against every object already stored (replacing its hits)."""
    from skysift.cli._common import print_table, store
    from skysift.context.owned import Viewer
    from skysift.context.watchlists import crossmatch_stored, hits_of

    engine = store(ctx.settings)
    hits = crossmatch_stored(engine, wl_id, Viewer(None, is_admin=True),
                             progress=sys.stderr.isatty())
    with engine.connect() as conn:
        shown = hits_of(conn, wl_id, limit=20)
    click.echo(f"watchlist {wl_id}: {hits:,} hit{'' if hits == 1 else 's'}"
               + (f"; the {len(shown)} closest:" if hits > len(shown) else ""))
    if shown:
        print_table(shown, ["diaObjectId", "cone_id", "name", "arcsec"])


# -------------------------------------------------------------------------------- watchmaps
@click.group("watchmap")
def watchmap() -> None:
    """Watchmaps: sky areas (MOCs) that every batch is tested against."""


@watchmap.command("add")
@click.argument("file", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "user_name", required=True, help="The owner.")
@click.option("--name", required=True, help="The watchmap's name.")
@click.option("--skymap", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Make it from this multi-order sky map, at --level.")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True), default=0.9,
              show_default=True, help="Credible level of the region taken from --skymap.")
@click.option("--cones", "cones_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Make it from the union of these cones (a watchlist file; radius default 60).")
@click.option("--polygon",
              help='Make it from a polygon: "ra1,dec1 ra2,dec2 ra3,dec3 ..." (degrees).')
@click.option("--description", default="")
@click.option("--public", is_flag=True, help="Everyone may use it in filters.")
@click.option("--inactive", is_flag=True, help="Keep it, but do not test new alerts against it.")
@pass_ctx
def wm_add(ctx: Context, file: Path | None, user_name: str, name: str, skymap: Path | None,
           level: float, cones_file: Path | None, polygon: str | None, description: str,
           public: bool, inactive: bool) -> None:
    """Make a watchmap and print its id: from FILE (a MOC as FITS, JSON or ASCII), or from
    --skymap, --cones or --polygon."""
    import numpy as np

    from skysift.accounts import get_user
    from skysift.cli._common import store
    from skysift.context import watchmaps as wm
    from skysift.errors import ContextError

    given = [x for x in (file, skymap, cones_file, polygon) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of FILE, --skymap, --cones or --polygon")
    if file is not None:
        moc = wm.read_moc(file.read_bytes(), file.name)
    elif skymap is not None:
        moc = wm.moc_from_skymap(skymap, level)
    elif cones_file is not None:
        from skysift.context.upload import read_cones

        cones = read_cones(cones_file)
        if cones.problems:
            click.echo(cones.problem_text(str(cones_file)), err=True)
        radius = np.asarray([60.0 if r is None else r for r in cones.radius])
        moc = wm.moc_from_cones(np.asarray(cones.ra), np.asarray(cones.dec), radius)
    else:
        try:
            pairs = [tuple(float(v) for v in p.split(",")) for p in str(polygon).split()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError
        except ValueError as exc:
            raise ContextError('a polygon is "ra1,dec1 ra2,dec2 ..." in degrees') from exc
        moc = wm.moc_from_polygon([p[0] for p in pairs], [p[1] for p in pairs])
    with store(ctx.settings).begin() as conn:
        made = wm.add_watchmap(conn, get_user(conn, user_name).id, name, moc,
                               description=description, public=public, active=not inactive)
    click.echo(f"area {made.area_deg2:.4g} deg2, MOC order {made.max_order}", err=True)
    click.echo(made.id)


@watchmap.command("list")
@click.option("--user", default=None, help="Only what this user sees.")
@pass_ctx
def wm_list(ctx: Context, user: str | None) -> None:
    """Every watchmap, with its owner, area and hits."""
    import sqlalchemy as sa

    from skysift.cli._common import print_table, store
    from skysift.context.watchmaps import list_watchmaps
    from skysift.store.schema import area_hits as h

    with store(ctx.settings).connect() as conn:
        found = list_watchmaps(conn, _viewer(conn, user))
        hits = dict(conn.execute(sa.select(h.c.ar_id, sa.func.count()).group_by(h.c.ar_id)).all())
    print_table([{"id": w.id, "name": w.name, "owner": w.user_name, "public": w.public,
                  "active": w.active, "area_deg2": w.area_deg2, "hits": hits.get(w.id, 0)}
                 for w in found], ["id", "name", "owner", "public", "active", "area_deg2", "hits"])


@watchmap.command("show")
@click.argument("ar_id", type=int)
@click.option("--user", default=None, help="As this user sees it.")
@pass_ctx
def wm_show(ctx: Context, ar_id: int, user: str | None) -> None:
    """A watchmap's settings and number of hits."""
    import sqlalchemy as sa

    from skysift.cli._common import store
    from skysift.context.watchmaps import get_watchmap
    from skysift.store.schema import area_hits as h

    with store(ctx.settings).connect() as conn:
        made = get_watchmap(conn, ar_id, _viewer(conn, user))
        hits = conn.execute(sa.select(sa.func.count()).select_from(h)
                            .where(h.c.ar_id == ar_id)).scalar_one()
    for key, value in made.as_dict().items():
        click.echo(f"{key:12} {value:.2f} deg2" if key == "area" else f"{key:12} {value}")
    click.echo(f"{'hits':12} {hits}")


@watchmap.command("delete")
@click.argument("ar_id", type=int)
@pass_ctx
def wm_delete(ctx: Context, ar_id: int) -> None:
    """Delete a watchmap and its hits."""
    from skysift.cli._common import store
    from skysift.context.watchmaps import delete_watchmap

    with store(ctx.settings).begin() as conn:
        made = delete_watchmap(conn, ar_id, _viewer(conn, None))
    click.echo(f"deleted watchmap {made.id} ({made.name})")


@watchmap.command("crossmatch")
@click.argument("ar_id", type=int)
@pass_ctx
def wm_crossmatch(ctx: Context, ar_id: int) -> None:
    """Test every object already stored against a watchmap (replacing its hits)."""
    from skysift.cli._common import store
    from skysift.context.owned import Viewer
    from skysift.context.watchmaps import crossmatch_stored_area

    hits = crossmatch_stored_area(store(ctx.settings), ar_id, Viewer(None, is_admin=True))
    click.echo(f"watchmap {ar_id}: {hits:,} hits")


# --------------------------------------------------------------------------------------- gw
@click.group("gw")
def gw() -> None:
    """Gravitational-wave events in the store: what filters join as gw_events and gw_hits."""


@gw.command("add")
@click.argument("notices", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def gw_add(ctx: Context, notices: tuple[Path, ...]) -> None:
    """Register LVK NOTICES (JSON or Avro, as `gcn process` reads them), in order; then run
    the filters that read gw_hits or gw_events over the objects whose hits changed."""
    from skysift.bridge import register_notices
    from skysift.cli._common import store
    from skysift.skymaps.notice import decode_notices
    from skysift.gcn.process import read_notice_file

    decoded = []
    for path in notices:
        decoded.extend(decode_notices(read_notice_file(path), path=str(path)))
    report = register_notices(store(ctx.settings), ctx.settings, decoded)
    for change in report.changes:
        click.echo(f"{change.superevent_id} {change.alert_type}: {change.action}"
                   + (f", map version {change.version}" if change.version else "")
                   + f", {change.hits} hits, {len(change.changed)} changed")
    if report.trigger is not None:
        click.echo(f"skymap-triggered filters: {report.trigger.filters_run} run, "
                   f"{report.trigger.records_produced} records")


@gw.command("list")
@pass_ctx
def gw_list(ctx: Context) -> None:
    """Every registered event, newest notice first."""
    from skysift.cli._common import print_table, store
    from skysift.context.gw import list_events
    from skysift.store.schema import gw_events

    with store(ctx.settings).connect() as conn:
        events = list_events(conn)
    columns = ["superevent_id", "alert_type", "alert_time", "t_event", "far", "p_BNS", "HasNS",
               "area90", "dist_mean", "retracted", "map_version", "hits"]
    print_table(events, columns)
    units = [f"{c} {u}" for c in columns if c in gw_events.c
             and (u := _unit(gw_events.c[c].comment)) is not None]
    if events and units:
        click.echo("units: " + "; ".join(units))


@gw.command("show")
@click.argument("event")
@click.option("--hits", "n_hits", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many hits to print (lowest contour first).")
@pass_ctx
def gw_show(ctx: Context, event: str, n_hits: int) -> None:
    """One event: its fields and its hits, most probable first."""
    from skysift.cli._common import print_table, store
    from skysift.context.gw import get_event, hits_of_event
    from skysift.store.schema import gw_events

    with store(ctx.settings).connect() as conn:
        row = get_event(conn, event)
        hits = hits_of_event(conn, event, limit=n_hits)
    for key, value in row.items():
        unit = _unit(gw_events.c[key].comment if key in gw_events.c else None)
        click.echo(f"{key:14} {value}" + (f"  ({unit})" if unit and value is not None else ""))
    click.echo("")
    print_table(hits, ["diaObjectId", "contour", "probdens2", "t_gw"])


def _unit(comment: str | None) -> str | None:
    """The unit a column's comment ends with, in brackets: "90% credible area (deg2)" -> deg2.

    >>> _unit("posterior mean distance (Mpc)"), _unit("of the latest notice"), _unit(None)
    ('Mpc', None, None)
    """
    found = re.search(r"\(([^()]+)\)\s*$", comment or "")
    return found.group(1) if found else None


# ------------------------------------------------------------------------------------- TNS
@click.group("tns")
def tns() -> None:
    """The Transient Name Server catalogue behind objects.tns_name."""


@tns.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def tns_load(ctx: Context, file: Path) -> None:
    """Load TNS's public objects file (tns_public_objects.csv, or the .zip it comes in),
    replacing the catalogue, and name every stored object on a TNS position."""
    from skysift.cli._common import store
    from skysift.context.tns import load_tns

    engine = store(ctx.settings)
    done = load_tns(engine, file, radius_arcsec=ctx.settings.tns_radius_arcsec,
                    progress=sys.stderr.isatty())
    for problem in done.skipped[:20]:
        click.echo(f"skipped: {problem}", err=True)
    if len(done.skipped) > 20:
        click.echo(f"skipped: ... and {len(done.skipped) - 20} more", err=True)
    dated = f" (file dated {done.dated})" if done.dated else ""
    click.echo(f"TNS: {done.loaded:,} objects loaded{dated}, {len(done.skipped):,} rows skipped; "
               f"{done.objects_named:,} stored objects named within "
               f"{ctx.settings.tns_radius_arcsec:g} arcsec, {done.objects_cleared:,} names cleared")
