"""The pipeline's context stage: each batch's objects against the watchlists, watchmaps and
live gravitational-wave events, between the store and the filters.

:class:`ContextStage` keeps in memory what every batch is matched against (the cones of every
active watchlist in one :class:`~skysift.context.sky.ConeIndex`, the MOC of every active
watchmap, the latest map of every event), rebuilt only when the store says it changed (a
cheap stamp query per batch). For the batch's objects it replaces their hits (on active lists,
active maps, and events live for them), then reads back every hit of those objects for the
batch engine, so a filter sees in a batch exactly what it would see in the store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from skysift.context.gw import BEFORE_EVENT_DAYS, ScoredMap, score_objects
from skysift.context.tables import CONTEXT_TABLES
from skysift.context.watchlists import ListCones, load_active_cones, match_cones
from skysift.context.watchmaps import inside, load_active_mocs
from skysift.store.schema import crossmatch_tns, gw_events, watchlists, watchmaps
from skysift.context.tns import tns_index
from skysift.store.schema import crossmatch_tns as t
from skysift.context.gw import latest_map
from skysift.store.schema import area_hits, gw_hits, watchlist_hits
from skysift.store.statements import in_ids, select_in, upsert
from skysift.context.tns import name_batch
from skysift.store.schema import crossmatch_tns as tns

__all__ = ["ContextResult", "ContextStage"]

log = logging.getLogger(__name__)


@dataclass
class ContextResult:
    """The batch's context rows, per table, for the batch engine; and timings (seconds)."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)  # new hits found in this batch
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Event:
    superevent_id: str
    t_event: float | None
    version: int | None
    retracted: bool
    map: ScoredMap | None


class ContextStage:
    """Crossmatches batches against the context; one per worker (not thread-safe)."""

    def __init__(self, *, max_contour: float, active_days: float,
                 tns_radius_arcsec: float = 1.5) -> None:
        self.max_contour = max_contour
        self.active_days = active_days
        self.tns_radius_arcsec = tns_radius_arcsec
        self._tns_names: list[str] = []
        self._tns_index: Any = None
        self._stamps: dict[str, Any] = {}
        self._cones: ListCones | None = None
        self._index: Any = None
        self._mocs: list[tuple[int, Any]] = []
        self._events: dict[str, _Event] = {}
        self._event_rows: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ what to match against
    def refresh(self, conn: sa.Connection) -> None:
        """Reload what changed since the last batch (watchlists, watchmaps, events)."""

        for name, table, when in (("watchlists", watchlists, watchlists.c.modified),
                                  ("watchmaps", watchmaps, watchmaps.c.modified),
                                  ("gw", gw_events, gw_events.c.updated),
                                  ("tns", crossmatch_tns, crossmatch_tns.c.loaded)):
            active = table.c.active.is_(True) if name in ("watchlists", "watchmaps") else sa.true()
            stamp = tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(when))
                                       .where(active)).one())
            if self._stamps.get(name) == stamp:
                continue
            started = time.perf_counter()
            getattr(self, f"_load_{name}")(conn)
            self._stamps[name] = stamp
            log.debug("context: %s reloaded in %.2f s", name, time.perf_counter() - started)

    def _load_watchlists(self, conn: sa.Connection) -> None:
        self._cones = load_active_cones(conn)
        self._index = self._cones.index() if len(self._cones) else None

    def _load_tns(self, conn: sa.Connection) -> None:
        rows = conn.execute(sa.select(t.c.tns_name, t.c.ra, t.c.decl)).all()
        self._tns_names = [r[0] for r in rows]
        self._tns_index = (tns_index(self._tns_names, np.array([r[1] for r in rows], float),
                                     np.array([r[2] for r in rows], float),
                                     self.tns_radius_arcsec) if rows else None)

    def _load_watchmaps(self, conn: sa.Connection) -> None:
        self._mocs = load_active_mocs(conn)

    def _load_gw(self, conn: sa.Connection) -> None:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(gw_events))]
        events: dict[str, _Event] = {}
        for row in rows:
            sid = row["superevent_id"]
            old = self._events.get(sid)
            sm = None
            if not row["retracted"] and row["map_version"] is not None:
                if old is not None and old.version == row["map_version"] and old.map is not None:
                    sm = old.map
                else:
                    data = latest_map(conn, sid)
                    sm = ScoredMap.from_fits(data, where=sid) if data else None
            events[sid] = _Event(sid, row["t_event"], row["map_version"], bool(row["retracted"]),
                                 sm)
        self._events = events
        columns = CONTEXT_TABLES["gw_events"]
        self._event_rows = [{c: r.get(c) for c in columns} for r in rows]

    @property
    def live_events(self) -> list[str]:
        """Events with a map in use (not retracted)."""
        return sorted(s for s, e in self._events.items() if e.map is not None)

    # ------------------------------------------------------------------ one batch
    def apply(self, conn: sa.Connection, objects: Iterable[Mapping[str, Any]], *,
              read_back: Iterable[str] = ()) -> ContextResult:
        """Match the batch's objects (rows with diaObjectId, ra, decl, firstDiaSourceMjdTai,
        lastDiaSourceMjdTai), replace their hits in the store, and read back the context rows
        of the tables in ``read_back`` for the batch engine."""

        result = ContextResult()
        rows = list(objects)
        if not rows:
            return result
        ids = np.asarray([r["diaObjectId"] for r in rows], dtype=np.int64)

        def col(name: str) -> np.ndarray:
            return np.asarray([np.nan if r.get(name) is None else r[name] for r in rows],
                              dtype=float)

        ra, dec = col("ra"), col("decl")
        t0 = time.perf_counter()
        id_list = ids.tolist()
        # watchlists: replace the objects' hits on active lists
        if self._cones is not None and len(self._cones):
            found = match_cones(self._cones, self._index, ids, ra, dec)
            active = sorted({int(w) for w in np.unique(self._cones.wl_id)})
            conn.execute(watchlist_hits.delete().where(
                in_ids(conn, watchlist_hits.c.diaObjectId, id_list),
                watchlist_hits.c.wl_id.in_(active)))
            upsert(conn, watchlist_hits, found, ("diaObjectId", "cone_id"))
            result.hits["watchlist_hits"] = len(found)
        t1 = time.perf_counter()
        # watchmaps
        if self._mocs:
            found_areas = [{"ar_id": ar_id, "diaObjectId": int(ids[i])}
                           for ar_id, moc in self._mocs
                           for i in np.flatnonzero(inside(moc, ra, dec)).tolist()]
            conn.execute(area_hits.delete().where(
                in_ids(conn, area_hits.c.diaObjectId, id_list),
                area_hits.c.ar_id.in_([a for a, _ in self._mocs])))
            upsert(conn, area_hits, found_areas, ("ar_id", "diaObjectId"))
            result.hits["area_hits"] = len(found_areas)
        t2 = time.perf_counter()
        # gravitational-wave events live for each object
        if self._events:
            first, last = col("firstDiaSourceMjdTai"), col("lastDiaSourceMjdTai")
            gw_found = 0
            for event in self._events.values():
                if event.map is None or event.t_event is None:
                    continue
                live = np.flatnonzero((last >= event.t_event - BEFORE_EVENT_DAYS)
                                      & (last <= event.t_event + self.active_days))
                if not live.size:
                    continue
                hits = score_objects(event.map, event.superevent_id, event.t_event, ids[live],
                                     ra[live], dec[live], first[live], self.max_contour)
                conn.execute(gw_hits.delete().where(
                    gw_hits.c.superevent_id == event.superevent_id,
                    in_ids(conn, gw_hits.c.diaObjectId, ids[live].tolist())))
                upsert(conn, gw_hits, hits, ("superevent_id", "diaObjectId"))
                gw_found += len(hits)
            result.hits["gw_hits"] = gw_found
        t3 = time.perf_counter()
        # TNS names: set on the rows (the batch engine reads them) and in the store
        if self._tns_index is not None:
            result.hits["tns"] = len(name_batch(conn, self._tns_names, self._tns_index, rows))
        t4 = time.perf_counter()
        wanted = set(read_back)
        tables = {"watchlist_hits": watchlist_hits, "area_hits": area_hits, "gw_hits": gw_hits}
        for name, table in tables.items():
            if name in wanted:
                columns = [table.c[c] for c in CONTEXT_TABLES[name]]
                result.rows[name] = [dict(zip(CONTEXT_TABLES[name], r, strict=True)) for r in
                                     select_in(conn, columns, table.c.diaObjectId, id_list)]
        if "gw_events" in wanted:
            result.rows["gw_events"] = list(self._event_rows)
        if "crossmatch_tns" in wanted:
            names = sorted({r["tns_name"] for r in rows if r.get("tns_name")})
            columns = [tns.c[c] for c in CONTEXT_TABLES["crossmatch_tns"]]
            result.rows["crossmatch_tns"] = [
                dict(zip(CONTEXT_TABLES["crossmatch_tns"], r, strict=True))
                for r in (conn.execute(sa.select(*columns).where(tns.c.tns_name.in_(names)))
                          if names else [])]
        t5 = time.perf_counter()
        result.seconds = {"watchlists": t1 - t0, "watchmaps": t2 - t1, "gw": t3 - t2,
                          "tns": t4 - t3, "read": t5 - t4}
        return result
