"""Watchmaps: sky areas (MOCs, IVOA Multi-Order Coverage maps) that objects are tested against.

A watchmap is made from an uploaded MOC (FITS or JSON, read by mocpy), from a sky map at a
credible level (the same region rule as skysift's credible areas), from a list of cones, or
from a polygon. Every batch tests its objects against every active watchmap
(:mod:`skysift.context.stage`); hits go to ``area_hits`` (ar_id, diaObjectId), many-to-many.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from skysift.context.owned import Viewer, check_name, fetch_owned, owned_rows
from skysift.errors import ContextError
from skysift.store.schema import watchmaps
from skysift.skymaps.multiorder import read_multiorder
from skysift.skymaps.regions import credible_moc
from skysift.store.statements import inserted_id
from skysift.store.schema import area_hits
from skysift.store.schema import objects
from skysift.store.statements import upsert

if TYPE_CHECKING:  # pragma: no cover
    from mocpy import MOC

__all__ = [
    "Watchmap",
    "add_watchmap",
    "crossmatch_stored_area",
    "delete_watchmap",
    "get_watchmap",
    "list_watchmaps",
    "moc_from_cones",
    "moc_from_polygon",
    "moc_from_skymap",
    "moc_of",
    "read_moc",
    "set_watchmap",
]

SKY_DEG2 = 4 * np.pi * (180 / np.pi) ** 2
#: The finest MOC order kept (order 13: cells of about 26 arcsec, as Lasair).
MAX_ORDER = 13


@dataclass(frozen=True)
class Watchmap:
    id: int
    user_id: int
    user_name: str
    name: str
    description: str
    public: bool
    active: bool
    area_deg2: float
    max_order: int
    created: datetime | None
    modified: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's)."""
        return {"ar_id": self.id, "name": self.name, "description": self.description,
                "owner": self.user_name, "public": self.public, "active": self.active,
                "area": self.area_deg2, "max_order": self.max_order,
                "created": self.created.isoformat() if self.created else None,
                "modified": self.modified.isoformat() if self.modified else None}


def _t() -> sa.Table:
    return watchmaps


def _columns() -> list[Any]:
    t = _t()
    return [t.c.id, t.c.user_id, t.c.name, t.c.description, t.c.public, t.c.active,
            t.c.area_deg2, t.c.max_order, t.c.created, t.c.modified]


def _from_row(row: Any) -> Watchmap:
    m = row._mapping
    return Watchmap(int(m["id"]), int(m["user_id"]), m["user_name"], m["name"], m["description"],
                    bool(m["public"]), bool(m["active"]), float(m["area_deg2"]),
                    int(m["max_order"]), m["created"], m["modified"])


# ------------------------------------------------------------------------------ making MOCs
def read_moc(data: bytes, filename: str = "upload") -> MOC:
    """A MOC from uploaded bytes: FITS, JSON (``{"order": [cells]}``) or mocpy's ASCII
    (``"3/1-5 4/"``).

    Raises
    ------
    ContextError
        Neither, or an empty MOC; the message names the file.
    """
    from mocpy import MOC

    try:
        if data[:6] == b"SIMPLE":
            fd, tmp = tempfile.mkstemp(suffix=".fits")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                moc = MOC.from_fits(tmp)
            finally:
                os.unlink(tmp)
        else:
            text = data.decode("utf-8-sig").strip()
            if text.startswith("{"):
                moc = MOC.from_json({k: v for k, v in json.loads(text).items()
                                     if str(k).isdigit()})
            else:
                moc = MOC.from_str(text)
    except ContextError:
        raise
    except Exception as exc:
        raise ContextError(f"{filename} is not a MOC (FITS, JSON or ASCII): "
                           f"{type(exc).__name__}: {exc}", path=filename) from exc
    return _checked(moc, filename)


def _checked(moc: MOC, what: str) -> MOC:
    if moc.empty():
        raise ContextError(f"{what}: the MOC covers no sky", path=what)
    if moc.max_order > MAX_ORDER:
        moc = moc.degrade_to_order(MAX_ORDER)
    return moc


def moc_from_skymap(source: bytes | str | Path, level: float) -> MOC:
    """The ``level`` credible region (0-1) of a multi-order sky map, as a MOC."""

    if not 0 < level <= 1:
        raise ContextError(f"the credible level must be above 0 and at most 1, not {level!r}")
    return _checked(credible_moc(read_multiorder(source), level), "sky map")


def moc_from_cones(ra: np.ndarray, dec: np.ndarray, radius_arcsec: np.ndarray,
                   order: int = MAX_ORDER) -> MOC:
    """The union of cones (degrees, arcsec)."""
    import astropy.units as u
    from mocpy import MOC

    if not len(ra):
        raise ContextError("no cones to make a watchmap from")
    moc = MOC.from_cones(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg,
                         radius=np.asarray(radius_arcsec) * u.arcsec, max_depth=order,
                         union_strategy="large_cones")
    return _checked(moc, "cones")


def moc_from_polygon(ra: list[float], dec: list[float], order: int = MAX_ORDER) -> MOC:
    """The inside of a polygon (vertices in degrees, at least three)."""
    import astropy.units as u
    from mocpy import MOC

    if len(ra) < 3 or len(ra) != len(dec):
        raise ContextError("a polygon needs at least three vertices (ra, dec pairs)")
    moc = MOC.from_polygon(np.asarray(ra) * u.deg, np.asarray(dec) * u.deg, max_depth=order)
    return _checked(moc, "polygon")


# ---------------------------------------------------------------------------------- the store
def add_watchmap(conn: sa.Connection, user_id: int, name: str, moc: MOC, *,
                 description: str = "", public: bool = False, active: bool = True) -> Watchmap:
    """Store a watchmap."""

    name, description = check_name(name, description, "watchmap")
    moc = _checked(moc, name)
    wm_id = inserted_id(conn.execute(_t().insert().values(
        user_id=user_id, name=name, description=description, public=public, active=active,
        moc=moc.to_string(format="ascii"), area_deg2=float(moc.sky_fraction * SKY_DEG2),
        max_order=int(moc.max_order))))
    return get_watchmap(conn, wm_id, Viewer(user_id))


def list_watchmaps(conn: sa.Connection, viewer: Viewer) -> list[Watchmap]:
    """The watchmaps ``viewer`` may see (their own and the public ones), by id."""
    return [_from_row(r) for r in owned_rows(conn, _t(), viewer, _columns())]


def get_watchmap(conn: sa.Connection, ar_id: int, viewer: Viewer, *,
                 write: bool = False) -> Watchmap:
    """One watchmap; :class:`~skysift.errors.ContextNotFound` when not visible to ``viewer``."""
    return _from_row(fetch_owned(conn, _t(), ar_id, viewer, _columns(), "watchmap", write=write))


def moc_of(conn: sa.Connection, ar_id: int) -> MOC:
    """The MOC of a watchmap (check visibility first with :func:`get_watchmap`)."""
    from mocpy import MOC

    text = conn.execute(sa.select(_t().c.moc).where(_t().c.id == ar_id)).scalar_one()
    return MOC.from_str(text)


def set_watchmap(conn: sa.Connection, ar_id: int, viewer: Viewer, *, name: str | None = None,
                 description: str | None = None, public: bool | None = None,
                 active: bool | None = None) -> Watchmap:
    """Change a watchmap's settings (the owner or an admin)."""
    current = get_watchmap(conn, ar_id, viewer, write=True)
    values: dict[str, Any] = {}
    if name is not None or description is not None:
        values["name"], values["description"] = check_name(
            name if name is not None else current.name,
            description if description is not None else current.description, "watchmap")
    if public is not None:
        values["public"] = public
    if active is not None:
        values["active"] = active
    if values:
        conn.execute(_t().update().where(_t().c.id == ar_id).values(**values))
    return get_watchmap(conn, ar_id, viewer)


def delete_watchmap(conn: sa.Connection, ar_id: int, viewer: Viewer) -> Watchmap:
    """Delete a watchmap and its hits (the owner or an admin)."""

    wm = get_watchmap(conn, ar_id, viewer, write=True)
    conn.execute(area_hits.delete().where(area_hits.c.ar_id == ar_id))
    conn.execute(_t().delete().where(_t().c.id == ar_id))
    return wm


def load_active_mocs(conn: sa.Connection) -> list[tuple[int, MOC]]:
    """(id, MOC) of every active watchmap (mocpy is imported only when there is one: its
    import costs a worker with no watchmaps ~0.4 s at start)."""
    t = _t()
    rows = conn.execute(sa.select(t.c.id, t.c.moc).where(t.c.active.is_(True))
                        .order_by(t.c.id)).all()
    if not rows:
        return []
    from mocpy import MOC

    return [(int(i), MOC.from_str(text)) for i, text in rows]


def inside(moc: MOC, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Which positions (degrees; NaN allowed, never inside) lie in ``moc``."""
    import astropy.units as u

    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    good = np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90)
    out = np.zeros(ra.shape, dtype=bool)
    if good.any():
        out[good] = moc.contains_lonlat((ra[good] % 360.0) * u.deg, dec[good] * u.deg)
    return out


def crossmatch_stored_area(engine: sa.Engine, ar_id: int, viewer: Viewer, *,
                           chunk: int = 100_000, progress: bool = True) -> int:
    """Test every stored object against one watchmap, replacing its hits; returns the hits."""
    from tqdm import tqdm


    with engine.connect() as conn:
        get_watchmap(conn, ar_id, viewer, write=True)
        moc = moc_of(conn, ar_id)
        total = int(conn.execute(sa.select(sa.func.count()).select_from(objects)).scalar_one())
    with engine.begin() as conn:
        conn.execute(area_hits.delete().where(area_hits.c.ar_id == ar_id))
    hits, last = 0, None
    with tqdm(total=total, unit="object", desc=f"watchmap {ar_id}", disable=not progress) as bar:
        while True:
            query = (sa.select(objects.c.diaObjectId, objects.c.ra, objects.c.decl)
                     .order_by(objects.c.diaObjectId).limit(chunk))
            if last is not None:
                query = query.where(objects.c.diaObjectId > last)
            with engine.begin() as conn:
                rows = conn.execute(query).all()
                if not rows:
                    break
                ra = np.asarray([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
                dec = np.asarray([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
                found = [{"ar_id": ar_id, "diaObjectId": int(rows[i][0])}
                         for i in np.flatnonzero(inside(moc, ra, dec)).tolist()]
                upsert(conn, area_hits, found, ("ar_id", "diaObjectId"))
                hits += len(found)
            last = int(rows[-1][0])
            bar.update(len(rows))
    return hits
