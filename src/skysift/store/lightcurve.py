"""Read back what the store holds: light curves and ``objects`` rows.

Used by the lite/full Kafka output when a topic is seeded from the store, by the web pages and,
later, by the light-curve plot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from skysift.errors import StoreError
from skysift.store.payloads import loads_record
from skysift.store.schema import forced_sources, objects, sources
from skysift.store.statements import select_in

__all__ = ["LightCurve", "fetch_lightcurves", "fetch_objects", "latest_objects"]


@dataclass
class LightCurve:
    """The stored detections and forced photometry of one object, oldest first.

    Attributes
    ----------
    diaObjectId
        The object.
    diaSources, diaForcedSources
        Every field of each record as it arrived (the stored JSON payload), sorted by
        (midpointMjdTai, id).
    """

    diaObjectId: int
    diaSources: list[dict[str, Any]] = field(default_factory=list)
    diaForcedSources: list[dict[str, Any]] = field(default_factory=list)


def _ids(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def fetch_lightcurves(conn: sa.Connection, ids: Iterable[int]) -> dict[int, LightCurve]:
    """The light curves of the objects ``ids`` (two SELECTs, whatever the number of ids).

    Returns
    -------
    dict
        diaObjectId -> :class:`LightCurve`, for each id with at least one stored source or
        forced source; ids the store does not know are absent.
    """
    wanted = _ids(ids)
    out: dict[int, LightCurve] = {}
    if not wanted:
        return out
    try:
        s, f = sources.c, forced_sources.c
        det = select_in(conn, [s.diaObjectId, s.midpointMjdTai, s.diaSourceId, s.payload],
                        s.diaObjectId, wanted)
        forced = select_in(conn, [f.diaObjectId, f.midpointMjdTai, f.diaForcedSourceId,
                                  f.payload], f.diaObjectId, wanted)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read light curves: {exc.__class__.__name__}: {exc}") from exc
    for oid, _t, _i, payload in sorted(det, key=lambda r: (r[0], r[1], r[2])):
        out.setdefault(oid, LightCurve(oid)).diaSources.append(loads_record(payload))
    for oid, _t, _i, payload in sorted(forced, key=lambda r: (r[0], r[1], r[2])):
        out.setdefault(oid, LightCurve(oid)).diaForcedSources.append(loads_record(payload))
    return out


def fetch_objects(conn: sa.Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The ``objects`` rows of ``ids`` (every column; ``diaObject`` as JSON text), by id."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    try:
        rows = select_in(conn, list(objects.columns), objects.c.diaObjectId, wanted)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read objects: {exc.__class__.__name__}: {exc}") from exc
    return {r.diaObjectId: dict(r._mapping) for r in rows}


def latest_objects(conn: sa.Connection, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` objects with the most recent ``lastDiaSourceMjdTai`` (ties: larger id
    first), newest first."""
    stmt = (sa.select(objects)
            .order_by(objects.c.lastDiaSourceMjdTai.desc().nulls_last(),
                      objects.c.diaObjectId.desc())
            .limit(int(limit)))
    try:
        return [dict(r._mapping) for r in conn.execute(stmt)]
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read objects: {exc.__class__.__name__}: {exc}") from exc
