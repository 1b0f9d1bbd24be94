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
from skysift.store.payloads import record_from
from skysift.store.schema import (FORCED_COLUMNS, SOURCE_COLUMNS, forced_sources, objects,
                                  sources)
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
        Every field of each record as it arrived (its columns joined to its stored payload),
        sorted by (midpointMjdTai, id).
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
        det = select_in(conn, [sources.c[n] for n in (*SOURCE_COLUMNS, "payload")],
                        sources.c.diaObjectId, wanted)
        forced = select_in(conn, [forced_sources.c[n] for n in (*FORCED_COLUMNS, "payload")],
                           forced_sources.c.diaObjectId, wanted)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read light curves: {exc.__class__.__name__}: {exc}") from exc
    # (diaObjectId, midpointMjdTai, id) order: the columns' positions 1, 2 and 0
    for r in sorted(det, key=lambda r: (r[1], r[2], r[0])):
        out.setdefault(r[1], LightCurve(r[1])).diaSources.append(
            record_from(SOURCE_COLUMNS, r[:-1], r[-1]))
    for r in sorted(forced, key=lambda r: (r[1], r[2], r[0])):
        out.setdefault(r[1], LightCurve(r[1])).diaForcedSources.append(
            record_from(FORCED_COLUMNS, r[:-1], r[-1]))
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
