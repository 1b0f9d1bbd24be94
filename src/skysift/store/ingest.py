"""Store a batch of alerts and recompute the ``objects`` rows they touch.

:func:`store_alerts` works inside the caller's transaction, so the pipeline commits the store and
its Kafka offsets together. Per batch it runs a fixed number of statements, whatever the batch size
(selects are split per 50,000 ids):

1. one SELECT of the stored diaSources of the touched objects (the feature input; it also tells
   which of the batch's history is stored already, so known payloads are never serialised again);
2. a primary-key check of the remaining diaSourceIds and of the batch's diaForcedSourceIds;
3. one INSERT ... ON CONFLICT DO NOTHING for the new sources and one for the new forced sources
   (a concurrent worker inserting the same source is harmless);
4. one SELECT of the stored diaObjects of the touched objects;
5. the features of every touched object from its whole stored light curve (one vectorised pass);
6. one INSERT ... ON CONFLICT (diaObjectId) DO UPDATE of the objects rows.

Solar-system-only alerts (``diaObjectId`` None or 0) have their diaSources stored, with a NULL
diaObjectId, so the detections are kept; they make no ``objects`` row.

The diaObject kept for an object is the one with the greatest
(validityStartMjdTai, lastDiaSourceMjdTai, diaSourceId of the carrying alert) among the stored one
and those arriving, so the result does not depend on the order of alerts or on how they are split
into batches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from skysift.alerts.model import Alert
from skysift.errors import StoreError
from skysift.features.compute import compute_features_many
from skysift.features.photometry import SourceArrays
from skysift.store.records import dumps_record, loads_record
from skysift.store.schema import forced_sources, objects, sources
from skysift.store.statements import insert_ignore, select_in, upsert

__all__ = ["StoreResult", "dia_object_key", "store_alerts"]

_Key = tuple[float, float, int]
_NEG = -math.inf


@dataclass
class StoreResult:
    """What :func:`store_alerts` did.

    Attributes
    ----------
    object_ids
        diaObjectIds whose ``objects`` row was written, ascending.
    rows
        The new ``objects`` rows by diaObjectId (every column, ``diaObject`` as JSON text).
    n_sources_new, n_forced_new
        diaSources / diaForcedSources that were not stored before this batch.
    """

    object_ids: list[int] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    n_sources_new: int = 0
    n_forced_new: int = 0


def _object_id(value: Any) -> int | None:
    return int(value) if value else None


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def dia_object_key(dia_object: Mapping[str, Any], source_id: int | None) -> _Key:
    """The ordering key of a diaObject record: the greatest is kept.

    (validityStartMjdTai, lastDiaSourceMjdTai, diaSourceId of the alert that carried it); missing
    values sort first.
    """
    def f(name: str) -> float:
        v = _num(dia_object.get(name))
        return _NEG if v is None else v

    return (f("validityStartMjdTai"), f("lastDiaSourceMjdTai"), -1 if source_id is None
            else int(source_id))


def _dumps(record: Mapping[str, Any]) -> str:
    return dumps_record(record)


def _source_row(s: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "diaSourceId": int(s["diaSourceId"]),
        "diaObjectId": _object_id(s.get("diaObjectId")),
        "midpointMjdTai": float(s["midpointMjdTai"]),
        "band": s.get("band"),
        "psfFlux": _num(s.get("psfFlux")),
        "psfFluxErr": _num(s.get("psfFluxErr")),
        "reliability": _num(s.get("reliability")),
        "ra": _num(s.get("ra")),
        "dec": _num(s.get("dec")),
        "snr": _num(s.get("snr")),
        "payload": _dumps(s),
        "ingested": now,
    }


def _forced_row(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "diaForcedSourceId": int(s["diaForcedSourceId"]),
        "diaObjectId": _object_id(s.get("diaObjectId")),
        "midpointMjdTai": float(s["midpointMjdTai"]),
        "band": s.get("band"),
        "psfFlux": _num(s.get("psfFlux")),
        "psfFluxErr": _num(s.get("psfFluxErr")),
        "payload": _dumps(s),
    }


def _new_ids(conn: sa.Connection, key: sa.ColumnElement[Any], ids: list[int]) -> list[int]:
    stored = {r[0] for r in select_in(conn, [key], key, ids)}
    return [i for i in ids if i not in stored]


def _choose_dia_objects(conn: sa.Connection, alerts: Sequence[Alert], touched: list[int]
                        ) -> dict[int, tuple[_Key, dict[str, Any], int | None, str | None]]:
    """The diaObject to keep per touched object: (key, record, carrying diaSourceId, json)."""
    best: dict[int, tuple[_Key, dict[str, Any], int | None, str | None]] = {}
    rows = select_in(conn, [objects.c.diaObjectId, objects.c.diaObject,
                            objects.c.diaObjectSourceId], objects.c.diaObjectId, touched)
    for oid, text, sid in rows:
        if text:
            record = loads_record(text)
            best[oid] = (dia_object_key(record, sid), record, sid, text)
    for a in alerts:
        oid = _object_id(a.diaObjectId)
        if oid is None or a.diaObject is None:
            continue
        key = dia_object_key(a.diaObject, a.diaSourceId)
        if oid not in best or key > best[oid][0]:
            best[oid] = (key, a.diaObject, int(a.diaSourceId), None)
    return best


def store_alerts(conn: sa.Connection, alerts: Sequence[Alert]) -> StoreResult:
    """Store the sources of ``alerts`` and upsert the ``objects`` row of every object they touch.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction (nothing is committed here).
    alerts
        The batch, any order.

    Returns
    -------
    StoreResult

    Raises
    ------
    StoreError
        The database refused a statement (the caller's transaction should be rolled back).
    """
    try:
        return _store(conn, alerts)
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"cannot store alerts: {detail}", alerts=len(alerts)) from exc


def _store(conn: sa.Connection, alerts: Sequence[Alert]) -> StoreResult:
    now = datetime.now(UTC)
    ordered = sorted(alerts, key=lambda a: (a.diaObjectId or 0, a.diaSourceId))
    src_by_id: dict[int, Mapping[str, Any]] = {}
    forced_by_id: dict[int, Mapping[str, Any]] = {}
    for a in ordered:
        src_by_id.setdefault(int(a.diaSource["diaSourceId"]), a.diaSource)
        for s in a.prvDiaSources:
            src_by_id.setdefault(int(s["diaSourceId"]), s)
        for f in a.prvDiaForcedSources:
            forced_by_id.setdefault(int(f["diaForcedSourceId"]), f)

    touched = sorted({oid for a in ordered if (oid := _object_id(a.diaObjectId)) is not None})
    # the stored light curves of the touched objects: feature input, and most of the batch's
    # history is found here, so only the remaining ids need a primary-key check
    c = sources.c
    lc = select_in(conn, [c.diaObjectId, c.diaSourceId, c.midpointMjdTai, c.band, c.psfFlux,
                          c.psfFluxErr, c.reliability, c.ra, c.dec], c.diaObjectId, touched)
    known = {r[1] for r in lc}
    new_src = _new_ids(conn, c.diaSourceId, sorted(i for i in src_by_id if i not in known))
    new_rows = [_source_row(src_by_id[i], now) for i in new_src]
    insert_ignore(conn, sources, new_rows, "diaSourceId")
    new_forced = _new_ids(conn, forced_sources.c.diaForcedSourceId, sorted(forced_by_id))
    insert_ignore(conn, forced_sources, [_forced_row(forced_by_id[i]) for i in new_forced],
                  "diaForcedSourceId")
    result = StoreResult(n_sources_new=len(new_src), n_forced_new=len(new_forced))
    if not touched:
        return result
    chosen = _choose_dia_objects(conn, ordered, touched)

    group_of = {oid: i for i, oid in enumerate(touched)}
    curve = [tuple(r) for r in lc] + [
        (r["diaObjectId"], r["diaSourceId"], r["midpointMjdTai"], r["band"], r["psfFlux"],
         r["psfFluxErr"], r["reliability"], r["ra"], r["dec"])
        for r in new_rows if r["diaObjectId"] in group_of]
    arrays = SourceArrays.from_rows((r[1:] for r in curve), (group_of[r[0]] for r in curve))
    dia_objects = [chosen[o][1] if o in chosen else None for o in touched]
    rows = compute_features_many(arrays, touched, dia_objects)
    for oid, row in zip(touched, rows):
        if oid in chosen:
            _, record, sid, text = chosen[oid]
            row["diaObjectSourceId"] = sid
            row["diaObject"] = text if text is not None else _dumps(record)
        else:
            row["diaObjectSourceId"] = None
            row["diaObject"] = None
        row["updated"] = now
    upsert(conn, objects, rows, "diaObjectId")
    result.object_ids = touched
    result.rows = dict(zip(touched, rows))
    return result

