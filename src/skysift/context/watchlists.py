"""Watchlists: named sets of cones (a position and a radius) that objects are matched against.

Every batch of the pipeline crossmatches its objects against every active watchlist
(:mod:`skysift.context.stage`); ``crossmatch_stored`` matches a list against every object
already stored. Hits go to ``watchlist_hits`` (wl_id, cone_id, diaObjectId, name, arcsec):
``arcsec`` is the exact angular separation between the object's (ra, decl) and the cone's
centre. One object may hit several cones of several lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from skysift.context.owned import Viewer, check_name, fetch_owned, owned_rows
from skysift.context.sky import ConeIndex
from skysift.context.upload import MAX_RADIUS_ARCSEC, Cones
from skysift.errors import ContextError
from skysift.store.schema import watchlists
from skysift.store.schema import watchlist_cones
from skysift.store.statements import inserted_id
from skysift.store.schema import watchlist_hits
from skysift.store.schema import watchlist_cones as c
from skysift.store.schema import objects
from skysift.store.statements import upsert
from skysift.store.schema import watchlist_hits as h

__all__ = ["DEFAULT_RADIUS_ARCSEC", "ListCones", "Watchlist", "add_watchlist", "cones_of",
           "crossmatch_stored", "delete_watchlist", "get_watchlist", "hits_of",
           "list_watchlists", "load_active_cones", "match_cones", "set_watchlist"]

#: The default cone radius of a new watchlist (arcsec), as Lasair's form.
DEFAULT_RADIUS_ARCSEC = 2.0
_INSERT_CHUNK = 20_000


@dataclass(frozen=True)
class Watchlist:
    id: int
    user_id: int
    user_name: str
    name: str
    description: str
    public: bool
    active: bool
    radius_arcsec: float
    n_cones: int
    created: datetime | None
    modified: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's)."""
        return {"wl_id": self.id, "name": self.name, "description": self.description,
                "owner": self.user_name, "public": self.public, "active": self.active,
                "radius": self.radius_arcsec, "n_cones": self.n_cones,
                "created": self.created.isoformat() if self.created else None,
                "modified": self.modified.isoformat() if self.modified else None}


def _t() -> sa.Table:
    return watchlists


def _columns() -> list[Any]:
    t = _t()
    return [t.c.id, t.c.user_id, t.c.name, t.c.description, t.c.public, t.c.active,
            t.c.radius_arcsec, t.c.n_cones, t.c.created, t.c.modified]


def _from_row(row: Any) -> Watchlist:
    m = row._mapping
    return Watchlist(int(m["id"]), int(m["user_id"]), m["user_name"], m["name"], m["description"],
                     bool(m["public"]), bool(m["active"]), float(m["radius_arcsec"]),
                     int(m["n_cones"]), m["created"], m["modified"])


def _check_radius(radius_arcsec: float) -> float:
    radius = float(radius_arcsec)
    if not (np.isfinite(radius) and 0 < radius <= MAX_RADIUS_ARCSEC):
        raise ContextError(f"the default radius must be above 0 and at most "
                           f"{MAX_RADIUS_ARCSEC:g} arcsec, not {radius_arcsec!r}")
    return radius


def add_watchlist(conn: sa.Connection, user_id: int, name: str, cones: Cones, *,
                  radius_arcsec: float = DEFAULT_RADIUS_ARCSEC, description: str = "",
                  public: bool = False, active: bool = True) -> Watchlist:
    """Make a watchlist of ``cones`` (the problems they carry are the caller's to report).

    Raises
    ------
    ContextError
        No good cone, a bad name or default radius.
    """

    name, description = check_name(name, description, "watchlist")
    radius = _check_radius(radius_arcsec)
    if not len(cones):
        raise ContextError("the watchlist has no good cone", name=name)
    t = _t()
    wl_id = inserted_id(conn.execute(t.insert().values(
        user_id=user_id, name=name, description=description, public=public, active=active,
        radius_arcsec=radius, n_cones=len(cones))))
    rows = ({"wl_id": wl_id, "ra": ra, "decl": dec, "name": n, "radius_arcsec": r}
            for ra, dec, n, r in zip(cones.ra, cones.dec, cones.name, cones.radius, strict=True))
    _insert_chunks(conn, watchlist_cones, rows)
    return get_watchlist(conn, wl_id, Viewer(user_id))


def _insert_chunks(conn: sa.Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _INSERT_CHUNK:
            conn.execute(table.insert(), chunk)
            chunk = []
    if chunk:
        conn.execute(table.insert(), chunk)


def list_watchlists(conn: sa.Connection, viewer: Viewer) -> list[Watchlist]:
    """The watchlists ``viewer`` may see (their own and the public ones), by id."""
    return [_from_row(r) for r in owned_rows(conn, _t(), viewer, _columns())]


def get_watchlist(conn: sa.Connection, wl_id: int, viewer: Viewer, *,
                  write: bool = False) -> Watchlist:
    """One watchlist; :class:`~skysift.errors.ContextNotFound` when not visible to ``viewer``."""
    return _from_row(fetch_owned(conn, _t(), wl_id, viewer, _columns(), "watchlist", write=write))


def set_watchlist(conn: sa.Connection, wl_id: int, viewer: Viewer, *, name: str | None = None,
                  description: str | None = None, public: bool | None = None,
                  active: bool | None = None, radius_arcsec: float | None = None) -> Watchlist:
    """Change a watchlist's settings (the owner or an admin)."""
    current = get_watchlist(conn, wl_id, viewer, write=True)
    values: dict[str, Any] = {}
    if name is not None or description is not None:
        values["name"], values["description"] = check_name(
            name if name is not None else current.name,
            description if description is not None else current.description, "watchlist")
    if public is not None:
        values["public"] = public
    if active is not None:
        values["active"] = active
    if radius_arcsec is not None:
        values["radius_arcsec"] = _check_radius(radius_arcsec)
    if values:
        conn.execute(_t().update().where(_t().c.id == wl_id).values(**values))
    return get_watchlist(conn, wl_id, viewer)


def delete_watchlist(conn: sa.Connection, wl_id: int, viewer: Viewer) -> Watchlist:
    """Delete a watchlist with its cones and hits (the owner or an admin)."""

    wl = get_watchlist(conn, wl_id, viewer, write=True)
    conn.execute(watchlist_hits.delete().where(watchlist_hits.c.wl_id == wl_id))
    conn.execute(watchlist_cones.delete().where(watchlist_cones.c.wl_id == wl_id))
    conn.execute(_t().delete().where(_t().c.id == wl_id))
    return wl


@dataclass(frozen=True)
class ListCones:
    """Cones as arrays (radius resolved to the list's default where the cone has none)."""

    cone_id: np.ndarray
    wl_id: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    radius: np.ndarray
    name: list[str]

    def __len__(self) -> int:
        return int(self.cone_id.size)

    def index(self) -> ConeIndex:
        return ConeIndex(self.ra, self.dec, self.radius)


def _load_cones(conn: sa.Connection, condition: Any) -> ListCones:
    t = _t()
    rows = conn.execute(
        sa.select(c.c.cone_id, c.c.wl_id, c.c.ra, c.c.decl,
                  sa.func.coalesce(c.c.radius_arcsec, t.c.radius_arcsec), c.c.name)
        .join(t, t.c.id == c.c.wl_id).where(condition).order_by(c.c.cone_id)).all()
    if not rows:
        empty = np.empty(0)
        return ListCones(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty, [])
    cone_id, wl_id, ra, dec, radius, names = zip(*rows, strict=True)
    return ListCones(np.asarray(cone_id, dtype=np.int64), np.asarray(wl_id, dtype=np.int64),
                     np.asarray(ra, dtype=float), np.asarray(dec, dtype=float),
                     np.asarray(radius, dtype=float), list(names))


def cones_of(conn: sa.Connection, wl_id: int) -> ListCones:
    """Every cone of one watchlist (check visibility first with :func:`get_watchlist`)."""

    return _load_cones(conn, c.c.wl_id == wl_id)


def load_active_cones(conn: sa.Connection) -> ListCones:
    """Every cone of every active watchlist (what each batch is matched against)."""
    return _load_cones(conn, _t().c.active.is_(True))


def match_cones(cones: ListCones, index: ConeIndex, object_ids: np.ndarray, ra: np.ndarray,
                dec: np.ndarray) -> list[dict[str, Any]]:
    """``watchlist_hits`` rows for objects (ids, ra and dec in degrees) against ``cones``."""
    found = index.match(ra, dec)
    return [{"diaObjectId": int(object_ids[p]), "cone_id": int(cones.cone_id[k]),
             "wl_id": int(cones.wl_id[k]), "name": cones.name[k], "arcsec": float(a)}
            for p, k, a in zip(found.position.tolist(), found.cone.tolist(),
                               found.arcsec.tolist(), strict=True)]


def crossmatch_stored(engine: sa.Engine, wl_id: int, viewer: Viewer, *, chunk: int = 100_000,
                      progress: bool = True,
                      on_chunk: Callable[[int, int], None] | None = None) -> int:
    """Match one watchlist against every object in the store, replacing its hits.

    Objects are read in chunks of ``chunk`` by diaObjectId, with a progress bar (tqdm) when
    ``progress``. Returns the number of hits.
    """
    from tqdm import tqdm


    with engine.connect() as conn:
        get_watchlist(conn, wl_id, viewer, write=True)
        cones = cones_of(conn, wl_id)
        total = int(conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar_one())
    index = cones.index()
    hits = 0
    last: int | None = None
    with engine.begin() as conn:
        conn.execute(watchlist_hits.delete().where(watchlist_hits.c.wl_id == wl_id))
    with tqdm(total=total, unit="object", desc=f"watchlist {wl_id}",
              disable=not progress) as bar:
        while True:
            query = (sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl)
                     .order_by(objects.c.diaObjectId).limit(chunk))
            if last is not None:
                query = query.where(objects.c.diaObjectId > last)
            with engine.begin() as conn:
                rows = conn.execute(query).all()
                if not rows:
                    break
                ids = np.asarray([r[0] for r in rows], dtype=np.int64)
                ra = np.asarray([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
                dec = np.asarray([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
                found = match_cones(cones, index, ids, ra, dec)
                # a batch may have stored the same hit meanwhile
                upsert(conn, watchlist_hits, found, ("diaObjectId", "cone_id"))
                hits += len(found)
            last = int(ids[-1])
            bar.update(len(rows))
            if on_chunk is not None:
                on_chunk(len(rows), hits)
    return hits


def hits_of(conn: sa.Connection, wl_id: int, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The list's hits, closest first (check visibility first with :func:`get_watchlist`)."""

    rows = conn.execute(sa.select(h.c.diaObjectId, h.c.cone_id, h.c.name, h.c.arcsec)
                        .where(h.c.wl_id == wl_id).order_by(h.c.arcsec, h.c.diaObjectId)
                        .limit(limit))
    return [dict(r._mapping) for r in rows]
