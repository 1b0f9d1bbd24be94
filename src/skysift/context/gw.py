"""Gravitational-wave events in the store: the bridge between the GCN listener and the filters.

Each LVK notice registered here (by the GCN listener when it is told where the store is, or by
``skysift gw add``) updates one row of ``gw_events``; a notice with a sky map adds a version to
``gw_maps`` and makes it the event's map in use, and the event's hits (``gw_hits``) are
recomputed for every stored object whose latest detection lies in the event's live window,
replacing the old ones. A retraction removes the event's hits, whenever it comes, and is final
(as ``RETRACTED`` is on disk). Other notices older than the one already registered (by
``time_created``) change nothing.

A hit: ``contour`` is the credible level (0-1) of the object's position in the latest map (the
probability of all pixels at least as dense, inclusive: ``skysift gcn tag``'s CREDIBLE_PERCENT
/ 100 and ligo.skymap's ``searched_prob``); ``probdens2`` the probability per square degree at
that position; ``t_gw`` the days from the event to the object's first detection (negative
before it). A hit exists where contour <= ``gw_max_contour``. The live window of an event is
``[t_event - 1 day, t_event + gw_active_days]`` on the object's latest detection time, for
alerts as they arrive and for stored objects when a map arrives, so replaying an old night
against an old event behaves as it did live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from skysift.errors import ContextError, ContextNotFound
from skysift.skymaps.notice import parse_time
from skysift.store.schema import gw_events
from skysift.store.schema import objects as o
from skysift.store.schema import gw_hits, gw_maps
from skysift.store.statements import upsert
from skysift.store.schema import gw_hits as h
from skysift.skymaps.credible import credible_levels
from skysift.skymaps.multiorder import read_multiorder
from skysift.skymaps.credible import credible_area

if TYPE_CHECKING:  # pragma: no cover
    from skysift.skymaps.notice import Notice
    from skysift.skymaps.multiorder import MultiOrderMap

__all__ = ["BEFORE_EVENT_DAYS", "GwChange", "ScoredMap", "event_columns", "get_event",
           "hits_of_event", "list_events", "register_notice", "score_objects"]

#: Objects detected this many days before an event are scored against its map too.
BEFORE_EVENT_DAYS = 1.0
SR_TO_DEG2 = (180.0 / np.pi) ** 2
_CLASSES = {"BNS": "p_BNS", "NSBH": "p_NSBH", "BBH": "p_BBH", "Terrestrial": "p_Terrestrial"}
_PROPERTIES = ("HasNS", "HasRemnant", "HasMassGap")


class ScoredMap:
    """A multi-order sky map ready to score positions: credible level and density per pixel,
    and the pixels' ranges at the finest order sorted for lookup.

    >>> from pathlib import Path
    >>> path = Path("../shared/data/lvk/skymaps/MS181101ab_bayestar.multiorder.fits")
    >>> if path.exists():  # the repository's data; the doctest skips quietly without it
    ...     sm = ScoredMap.from_fits(path.read_bytes())
    ...     contour, dens = sm.score(np.array([194.30419921874997]),
    ...                              np.array([-17.856895095545468]))
    ...     assert contour[0] < 0.001 and dens[0] > 0
    """

    def __init__(self, m: MultiOrderMap) -> None:
        self.map = m
        self.levels = credible_levels(m)
        self.density_deg2 = m.probdensity / SR_TO_DEG2
        top = m.max_level
        starts = np.left_shift(m.ipix.astype(np.int64), 2 * (top - m.level.astype(np.int64)))
        self._order = np.argsort(starts, kind="stable")
        self._starts = starts[self._order]
        self._top = top

    @classmethod
    def from_fits(cls, data: bytes, where: str | None = None) -> ScoredMap:
        return cls(read_multiorder(data, where=where))

    def score(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(credible level 0-1, probability per deg2) at each position (degrees); NaN where a
        position is not finite."""
        import astropy.units as u
        from astropy_healpix import level_to_nside, lonlat_to_healpix

        ra = np.asarray(ra, dtype=float)
        dec = np.asarray(dec, dtype=float)
        contour = np.full(ra.shape, np.nan)
        dens = np.full(ra.shape, np.nan)
        good = np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90)
        if good.any():
            idx = lonlat_to_healpix((ra[good] % 360.0) * u.deg, dec[good] * u.deg,
                                    level_to_nside(self._top), order="nested")
            pos = np.searchsorted(self._starts, np.asarray(idx, dtype=np.int64), side="right") - 1
            rows = self._order[pos]
            contour[good] = self.levels[rows]
            dens[good] = self.density_deg2[rows]
        return contour, dens

    def areas(self) -> dict[float, float]:
        """50% and 90% credible areas (deg2), by skysift's rule (docs/gcn.md)."""

        return {lev: credible_area(self.map, lev, self.levels) for lev in (0.5, 0.9)}

    def distance(self) -> tuple[float | None, float | None]:
        """The posterior distance mean and standard deviation (Mpc) from the map's header."""
        h = self.map.header
        mean, std = h.get("DISTMEAN"), h.get("DISTSTD")
        return (float(mean) if mean is not None else None,
                float(std) if std is not None else None)


@dataclass
class GwChange:
    """What registering one notice did.

    ``action``: ``new map`` (hits recomputed), ``same map`` (a map already in use, sent again),
    ``no map`` (the event's fields updated, its hits kept), ``retracted`` (hits removed),
    ``older`` (a notice older than the registered one, or any notice but a retraction after a
    retraction: nothing changed). A retraction is final, as on disk (``RETRACTED``): it retracts
    the event even when it is older than the notice registered, and nothing un-retracts it.
    ``changed``: the objects whose hits appeared, went or changed (what skymap-triggered filters
    run over).
    """

    superevent_id: str
    action: str
    alert_type: str
    version: int | None = None
    hits: int = 0
    changed: set[int] = field(default_factory=set)


def _mjd_tai(when: datetime) -> float:
    from astropy.time import Time

    return float(Time(when).tai.mjd)


def event_fields(notice: Notice) -> dict[str, Any]:
    """The ``gw_events`` columns a notice gives (all but the map's)."""

    event = notice.event or {}
    values: dict[str, Any] = {"superevent_id": notice.superevent_id,
                              "alert_type": notice.alert_type,
                              "alert_time": notice.time_created}
    if notice.is_retraction:
        values["retracted"] = True
        return values
    if event.get("time"):
        try:
            values["t_event"] = _mjd_tai(parse_time(event["time"]))
        except ValueError as exc:
            raise ContextError(f"notice {notice.superevent_id}: event time "
                               f"{event.get('time')!r} is not ISO 8601",
                               superevent_id=notice.superevent_id) from exc
    for key, column in (("far", "far"), ("significant", "significant"), ("group", "gw_group")):
        if event.get(key) is not None:
            values[column] = event[key]
    for name, column in _CLASSES.items():
        value = (event.get("classification") or {}).get(name)
        if value is not None:
            values[column] = float(value)
    for name in _PROPERTIES:
        value = (event.get("properties") or {}).get(name)
        if value is not None:
            values[name] = float(value)
    values["retracted"] = False
    return values


def _events() -> sa.Table:
    return gw_events


def _objects_in_window(conn: sa.Connection, t_event: float,
                       active_days: float) -> Sequence[sa.Row[Any, Any, Any, Any]]:
    return conn.execute(
        sa.select(o.c.diaObjectId, o.c.ra, o.c.decl, o.c.firstDiaSourceMjdTai)
        .where(o.c.lastDiaSourceMjdTai >= t_event - BEFORE_EVENT_DAYS,
               o.c.lastDiaSourceMjdTai <= t_event + active_days)).all()


def score_objects(sm: ScoredMap, superevent_id: str, t_event: float | None, ids: np.ndarray,
                  ra: np.ndarray, dec: np.ndarray, first_mjd: np.ndarray,
                  max_contour: float) -> list[dict[str, Any]]:
    """``gw_hits`` rows of objects (arrays) against one event's map."""
    contour, dens = sm.score(ra, dec)
    keep = np.flatnonzero(np.isfinite(contour) & (contour <= max_contour))
    out = []
    for i in keep.tolist():
        t_gw = (float(first_mjd[i] - t_event)
                if t_event is not None and np.isfinite(first_mjd[i]) else None)
        out.append({"superevent_id": superevent_id, "diaObjectId": int(ids[i]),
                    "contour": float(contour[i]), "probdens2": float(dens[i]), "t_gw": t_gw})
    return out


def _arrays(rows: Sequence[Any]) -> tuple[np.ndarray, ...]:
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    cols = [np.asarray([np.nan if r[k] is None else r[k] for r in rows], dtype=float)
            for k in (1, 2, 3)]
    return (ids, *cols)


def register_notice(conn: sa.Connection, notice: Notice, *, max_contour: float,
                    active_days: float) -> GwChange:
    """Register one LVK notice in the store (one transaction: ``conn`` from ``engine.begin()``).

    Raises
    ------
    ContextError
        The notice's sky map cannot be read, or its event time is malformed.
    """

    events = _events()
    sid = notice.superevent_id
    current = conn.execute(sa.select(events).where(events.c.superevent_id == sid)).first()
    older = current is not None and notice.time_created < current._mapping["alert_time"]
    if current is not None and (current._mapping["retracted"]
                                or (older and not notice.is_retraction)):
        return GwChange(sid, "older", notice.alert_type)
    values = event_fields(notice)
    if older:
        del values["alert_time"]  # an older retraction: the newest notice's time stays
    old_hits = {int(r[0]): (r[1], r[2]) for r in conn.execute(
        sa.select(gw_hits.c.diaObjectId, gw_hits.c.contour, gw_hits.c.probdens2)
        .where(gw_hits.c.superevent_id == sid))}
    sm: ScoredMap | None = None
    version: int | None = None
    action = "no map"
    if notice.is_retraction:
        action = "retracted"
    elif notice.skymap:
        latest = None
        if (current is not None and current._mapping["map_version"] is not None
                and not current._mapping["retracted"]):
            latest = conn.execute(sa.select(gw_maps.c.fits).where(
                gw_maps.c.superevent_id == sid,
                gw_maps.c.version == current._mapping["map_version"])).scalar()
        if latest is not None and hashlib.sha256(latest).digest() == \
                hashlib.sha256(notice.skymap).digest():
            action = "same map"
        else:
            try:
                sm = ScoredMap.from_fits(notice.skymap, where=f"{sid} {notice.alert_type}")
            except Exception as exc:
                raise ContextError(f"the sky map of {sid} ({notice.alert_type}) cannot be read: "
                                   f"{exc}", superevent_id=sid) from exc
            action = "new map"
            areas = sm.areas()
            values["area50"], values["area90"] = areas[0.5], areas[0.9]
            values["dist_mean"], values["dist_std"] = sm.distance()

    if current is None:
        conn.execute(events.insert().values(**values))
    else:
        conn.execute(events.update().where(events.c.superevent_id == sid).values(**values))
    change = GwChange(sid, action, notice.alert_type)
    if action == "new map":
        assert sm is not None
        version = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(gw_maps.c.version), 0))
                                   .where(gw_maps.c.superevent_id == sid)).scalar_one()) + 1
        conn.execute(gw_maps.insert().values(superevent_id=sid, version=version,
                                             alert_type=notice.alert_type,
                                             alert_time=notice.time_created, fits=notice.skymap))
        conn.execute(events.update().where(events.c.superevent_id == sid)
                     .values(map_version=version))
        t_event = values.get("t_event",
                             current._mapping["t_event"] if current is not None else None)
        new_rows: list[dict[str, Any]] = []
        if t_event is not None:
            rows = _objects_in_window(conn, t_event, active_days)
            if rows:
                ids, ra, dec, first = _arrays(rows)
                new_rows = score_objects(sm, sid, t_event, ids, ra, dec, first, max_contour)
        conn.execute(gw_hits.delete().where(gw_hits.c.superevent_id == sid))
        upsert(conn, gw_hits, new_rows, ("superevent_id", "diaObjectId"))
        new = {r["diaObjectId"]: (r["contour"], r["probdens2"]) for r in new_rows}
        change.version = version
        change.hits = len(new)
        change.changed = {i for i in set(old_hits) | set(new) if old_hits.get(i) != new.get(i)}
    elif action == "retracted":
        conn.execute(gw_hits.delete().where(gw_hits.c.superevent_id == sid))
        change.changed = set(old_hits)
    else:
        change.version = current._mapping["map_version"] if current is not None else None
        change.hits = len(old_hits)
    return change


# ------------------------------------------------------------------------------ reading
def event_columns() -> list[str]:
    """The ``gw_events`` columns filters read (and the CLI and API show)."""
    return [c.name for c in _events().columns if c.name not in ("alert_time", "updated")]


def list_events(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every registered event, newest first, with its number of hits."""

    events = _events()
    counts: dict[str, int] = dict(conn.execute(sa.select(gw_hits.c.superevent_id, sa.func.count())
                               .group_by(gw_hits.c.superevent_id)).all())
    rows = conn.execute(sa.select(events).order_by(events.c.alert_time.desc(),
                                                   events.c.superevent_id))
    return [dict(r._mapping, hits=int(counts.get(r._mapping["superevent_id"], 0))) for r in rows]


def get_event(conn: sa.Connection, superevent_id: str) -> dict[str, Any]:
    """One event; :class:`~skysift.errors.ContextNotFound` when it is not registered."""

    events = _events()
    row = conn.execute(sa.select(events).where(events.c.superevent_id == superevent_id)).first()
    if row is None:
        raise ContextNotFound(f"no gravitational-wave event {superevent_id}",
                              superevent_id=superevent_id)
    hits = conn.execute(sa.select(sa.func.count()).select_from(gw_hits)
                        .where(gw_hits.c.superevent_id == superevent_id)).scalar_one()
    return dict(row._mapping, hits=int(hits))


def hits_of_event(conn: sa.Connection, superevent_id: str, *,
                  limit: int = 1000) -> list[dict[str, Any]]:
    """The event's hits, most probable region first (lowest contour)."""

    rows = conn.execute(sa.select(h.c.diaObjectId, h.c.contour, h.c.probdens2, h.c.t_gw)
                        .where(h.c.superevent_id == superevent_id)
                        .order_by(h.c.contour, h.c.diaObjectId).limit(limit))
    return [dict(r._mapping) for r in rows]


def latest_map(conn: sa.Connection, superevent_id: str) -> bytes | None:
    """The FITS bytes of the event's map in use, or None."""

    events = _events()
    return conn.execute(
        sa.select(gw_maps.c.fits).join(events, sa.and_(
            events.c.superevent_id == gw_maps.c.superevent_id,
            events.c.map_version == gw_maps.c.version))
        .where(events.c.superevent_id == superevent_id)).scalar()
