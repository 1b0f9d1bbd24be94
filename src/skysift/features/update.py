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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from skysift.alerts.model import Alert
from skysift.alerts.vet import (BANDS, FLUX_MAX, ID_MAX, MJD_RANGE, refusal, soft_float, storable,
                                trigger_refusal)
from skysift.features.bbb import BBB_COLUMNS
from skysift.features.compute import compute_features_many
from skysift.features.dust import DustMap
from skysift.features.photometry import SourceArrays
from skysift.store.payloads import dumps_record, loads_record, payload_beside
from skysift.store.schema import (FORCED_COLUMNS, SOURCE_COLUMNS, forced_sources, objects,
                                  sources)
from skysift.store.statements import (chunks, in_ids, insert_values, missing_ids, select_in,
                                      upsert)
from skysift.store.translate import db_errors

__all__ = ["StoreResult", "dia_object_key", "store_alerts"]

_Key = tuple[float, float, int]
_MJD_LO, _MJD_HI = MJD_RANGE
_NEG = -math.inf
#: Integer ``objects`` columns and their width in bits (PostgreSQL INTEGER / BIGINT).
_INT_COLUMNS: tuple[tuple[str, int], ...] = tuple(
    (c.name, 64 if isinstance(c.type, sa.BigInteger) else 32) for c in objects.columns
    if isinstance(c.type, sa.Integer) and c.name not in ("diaObjectId", "diaObjectSourceId"))


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
    refused
        Alerts not stored, with the reason: an impossible value in the triggering diaSource,
        the diaObject (:func:`skysift.alerts.vet.trigger_refusal`) or a history item not stored
        yet (:func:`skysift.alerts.vet.refusal`), or a triggering diaSource whose id is stored
        (or came earlier in the batch) with other values.
    warnings
        Values stored as NULL, with the alert they came from (``"<origin>: <field> ..."``).
    """

    object_ids: list[int] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    n_sources_new: int = 0
    n_forced_new: int = 0
    refused: list[tuple[Alert, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
    or non-numeric values sort first.
    """
    def f(name: str) -> float:
        try:
            v = _num(dia_object.get(name))
        except (TypeError, ValueError):
            return _NEG
        return _NEG if v is None else v

    return (f("validityStartMjdTai"), f("lastDiaSourceMjdTai"), -1 if source_id is None
            else int(source_id))


_dumps = dumps_record


class _Soft:
    """Soft (NULL-able) column values of one alert's items, with the warnings they raise."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.origin = ""

    def f(self, item: Mapping[str, Any], name: str) -> float | None:
        value = item.get(name)
        if value is None:
            return None
        if type(value) is float and -FLUX_MAX <= value <= FLUX_MAX and (
                value >= 0 or name not in _NON_NEGATIVE) and (
                name != "reliability" or value <= 1.0):
            return value  # the common case, checked without a call
        clean, why = soft_float(name, value)
        if why is not None:
            self.warnings.append(f"{self.origin}: {why}, stored as NULL")
        return clean


_NON_NEGATIVE = frozenset({"psfFluxErr", "reliability"})


#: The ``sources`` / ``forced_sources`` columns a new history item's row holds, in the order of
#: the tuples :func:`_source_row` and :func:`_forced_row` build (``ingested`` is the batch's).
_SOURCE_NAMES = (*SOURCE_COLUMNS, "payload")
_FORCED_NAMES = (*FORCED_COLUMNS, "payload")


#: The keys of a history item as the projected reader gives it: the columns and ssObjectId.
_SOURCE_KEYS = frozenset(SOURCE_COLUMNS)
_PROJECTED_SOURCE = _SOURCE_KEYS | {"ssObjectId"}
_FORCED_KEYS = frozenset(FORCED_COLUMNS)


def _clean_source_row(s: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The row of a diaSource that :func:`~skysift.alerts.vet.storable` accepts and whose every
    column holds the record's own value (the common case: the payload then holds the rest, what
    :func:`~skysift.store.payloads.payload_beside` gives, without its checks field by field),
    checked in one pass over the fields; None otherwise (:func:`_source_row` then decides)."""
    sid, oid, mjd = s.get("diaSourceId"), s.get("diaObjectId"), s.get("midpointMjdTai")
    flux, err, rel, snr = s.get("psfFlux"), s.get("psfFluxErr"), s.get("reliability"), s.get("snr")
    ra, dec, band = s.get("ra"), s.get("dec"), s.get("band")
    if not (type(sid) is int and 0 < sid <= ID_MAX
            and type(mjd) is float and _MJD_LO <= mjd <= _MJD_HI and band in BANDS
            and (oid is None or (type(oid) is int and 0 < oid <= ID_MAX))
            and type(ra) is float and 0.0 <= ra <= 360.0
            and type(dec) is float and -90.0 <= dec <= 90.0
            and (flux is None or (type(flux) is float and -FLUX_MAX <= flux <= FLUX_MAX))
            and (err is None or (type(err) is float and 0.0 <= err <= FLUX_MAX))
            and (rel is None or (type(rel) is float and 0.0 <= rel <= 1.0))
            and (snr is None or (type(snr) is float and -FLUX_MAX <= snr <= FLUX_MAX))
            and 0.0 not in (flux, err, rel, snr, ra, dec)):  # a zero's sign is not kept
        return None
    row = (sid, oid, mjd, band, flux, err, rel, ra, dec, snr)
    keys = s.keys()
    if keys == _PROJECTED_SOURCE:
        return (*row, _dumps({"ssObjectId": s["ssObjectId"]}))
    if keys >= _SOURCE_KEYS:
        return (*row, _dumps({k: v for k, v in s.items() if k not in _SOURCE_KEYS}))
    return (*row, _dumps(s))


def _source_row(s: Mapping[str, Any], soft: _Soft) -> tuple[Any, ...]:
    """The ``sources`` row of a diaSource (:data:`_SOURCE_NAMES` but ``ingested``): values that
    cannot be stored as they are become NULL, with a warning in ``soft``."""
    row = _clean_source_row(s)
    if row is not None:
        return row
    f = soft.f  # each value as it is when it can be stored, else NULL and a warning
    flux, err, rel, snr = f(s, "psfFlux"), f(s, "psfFluxErr"), f(s, "reliability"), f(s, "snr")
    ra, dec = s.get("ra"), s.get("dec")
    row = (int(s["diaSourceId"]), _object_id(s.get("diaObjectId")), float(s["midpointMjdTai"]),
           s.get("band"), flux, err, rel,
           ra if type(ra) is float and ra == ra else _num(ra),
           dec if type(dec) is float and dec == dec else _num(dec), snr)
    return (*row, payload_beside(s, SOURCE_COLUMNS, row))


def _clean_forced_row(s: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """As :func:`_clean_source_row`, for a diaForcedSource."""
    fid, oid, mjd = s.get("diaForcedSourceId"), s.get("diaObjectId"), s.get("midpointMjdTai")
    flux, err, band = s.get("psfFlux"), s.get("psfFluxErr"), s.get("band")
    if not (type(fid) is int and 0 < fid <= ID_MAX
            and type(mjd) is float and _MJD_LO <= mjd <= _MJD_HI and band in BANDS
            and (oid is None or (type(oid) is int and 0 < oid <= ID_MAX))
            and (flux is None or (type(flux) is float and -FLUX_MAX <= flux <= FLUX_MAX))
            and (err is None or (type(err) is float and 0.0 <= err <= FLUX_MAX))
            and 0.0 not in (flux, err)):
        return None
    row = (fid, oid, mjd, band, flux, err)
    keys = s.keys()
    if keys == _FORCED_KEYS:
        return (*row, "{}")
    if keys >= _FORCED_KEYS:
        return (*row, _dumps({k: v for k, v in s.items() if k not in _FORCED_KEYS}))
    return (*row, _dumps(s))


def _forced_row(s: Mapping[str, Any], soft: _Soft) -> tuple[Any, ...]:
    """As :func:`_source_row`, for a diaForcedSource (:data:`_FORCED_NAMES`)."""
    row = _clean_forced_row(s)
    if row is not None:
        return row
    flux, err = soft.f(s, "psfFlux"), soft.f(s, "psfFluxErr")
    row = (int(s["diaForcedSourceId"]), _object_id(s.get("diaObjectId")),
           float(s["midpointMjdTai"]), s.get("band"), flux, err)
    return (*row, payload_beside(s, FORCED_COLUMNS, row))


def _int_id(value: Any) -> int | None:
    """An item's id as an int when it is a valid 64-bit id, else None."""
    if type(value) is str and value.strip().isdigit():
        value = int(value)
    if type(value) is int and 0 < value <= ID_MAX:
        return value
    return None


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def _conflict(sid: int, stored: tuple[Any, ...], source: Mapping[str, Any]) -> str | None:
    """Why the alert's triggering diaSource contradicts the stored one, or None."""
    names = ("diaObjectId", "midpointMjdTai", "band", "psfFlux")
    mine = (_object_id(source.get("diaObjectId")), source.get("midpointMjdTai"),
            source.get("band"), _num(source.get("psfFlux")))
    diffs = [f"{n} {theirs!r} (this alert: {ours!r})"
             for n, theirs, ours in zip(names, stored, mine, strict=True)
             if not _same(theirs, ours)]
    if not diffs:
        return None
    return f"diaSource {sid} is stored already with other values: " + ", ".join(diffs)


def _ids_ok(values: list[Any]) -> bool:
    """Whether every value is an int id in 1..2**63-1 (a fast check for whole lists)."""
    return not values or (set(map(type, values)) == {int} and min(values) > 0
                          and max(values) <= ID_MAX)


def _bad_history_id(alert: Alert) -> str | None:
    """Why ``alert`` must be refused for a history item without a valid id, or None."""
    for kind, items, key in (("prvDiaSources", alert.prvDiaSources, "diaSourceId"),
                             ("prvDiaForcedSources", alert.prvDiaForcedSources,
                              "diaForcedSourceId")):
        if _ids_ok([item.get(key) for item in items]):
            continue
        for i, item in enumerate(items):
            if _int_id(item.get(key)) is None:
                return (f"refused: {kind}[{i}].{key} is {item.get(key)!r}, not an id in "
                        "1..2**63-1")
    return None


@dataclass(frozen=True, slots=True)
class _Judged:
    """A storable history item with values to clean, and the alert it was judged in (whose
    origin its warnings name)."""

    item: Mapping[str, Any]
    origin: str


#: What the vetting learnt of a new history item, by (kind, id): its row (a clean item, see
#: :func:`_clean_source_row`), the item to build the row from (storable, with values to clean:
#: its row is built with the others, warnings and all) or why it is refused. The row stored for
#: an id is always built from the item that was judged: another alert of the batch may carry the
#: same id with other values, which were never judged.
_Checked = dict[tuple[str, int], "tuple[Any, ...] | _Judged | str"]


def _vet_history(alert: Alert, new_src: set[int], new_forced: set[int],
                 checked: _Checked) -> str | None:
    """The first reason to refuse ``alert`` for one of its history items that is not stored yet
    (stored ones were checked when they were stored; the stored values are used). A clean item's
    row is built on the way (the check and the row read the same fields) and kept in
    ``checked``."""
    for kind, items, key, new in (("prvDiaSources", alert.prvDiaSources, "diaSourceId", new_src),
                                  ("prvDiaForcedSources", alert.prvDiaForcedSources,
                                   "diaForcedSourceId", new_forced)):
        if not items:
            continue
        ids = [int(item[key]) for item in items]  # JSON may carry them as digit strings
        if new.isdisjoint(ids):  # the steady state: the whole history is stored already
            continue
        forced = kind == "prvDiaForcedSources"
        clean = _clean_forced_row if forced else _clean_source_row
        for i, (sid, item) in enumerate(zip(ids, items, strict=True)):
            if sid not in new:
                continue
            cache_key = (kind, sid)
            found = checked.get(cache_key)
            if found is None:
                found = clean(item)
                if found is None:  # not clean: refused, or storable with values to clean
                    why = None if storable(item, forced) else refusal(item, f"{kind}[{i}]")
                    found = why if why is not None else _Judged(item, alert.origin.describe())
                checked[cache_key] = found
            if type(found) is str:
                return f"refused: {found}"
    return None


def _vetted_row(found: tuple[Any, ...] | _Judged | str, soft: _Soft,
                build: Callable[[Mapping[str, Any], _Soft], tuple[Any, ...]]) -> tuple[Any, ...]:
    """The row of an accepted history item from what :func:`_vet_history` kept of it; warnings
    name the alert the item was judged in."""
    if isinstance(found, tuple):
        return found
    if isinstance(found, str):  # a kept alert's new items were all accepted
        raise AssertionError(f"a refused history item reached the store: {found}")
    origin, soft.origin = soft.origin, found.origin
    try:
        return build(found.item, soft)
    finally:
        soft.origin = origin


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


def _lock_objects(conn: sa.Connection, object_ids: list[int]) -> set[int]:
    """Lock the ``objects`` rows of ``object_ids`` (ascending) until the transaction ends, so
    that two workers storing alerts of the same object one after the other each see the
    other's sources: the second waits here for the first to commit, then reads the light curve
    with its sources in it (READ COMMITTED: every statement sees what is committed when it
    starts). Objects without a row get one first (the insert waits, likewise, for a concurrent
    insert of the same row); their ids are returned, so that rows of objects whose every alert
    is refused can be removed again.

    PostgreSQL only: row locks live in the rows, so a batch of any size takes no lock-table
    space (advisory locks would). A SQLite store has one writer at a time; a second writer
    whose snapshot went stale gets "database is locked", which the batch loop retries.
    """
    if conn.dialect.name != "postgresql" or not object_ids:
        return set()
    created: set[int] = set()
    ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.BigInteger))
    for part in chunks(object_ids):
        values = sa.select(sa.func.unnest(ids).label("id")).subquery()
        insert = (postgresql.insert(objects)
                  .from_select(["diaObjectId", "updated"],
                               sa.select(values.c.id, sa.func.now()).order_by(values.c.id))
                  .on_conflict_do_nothing(index_elements=["diaObjectId"])
                  .returning(objects.c.diaObjectId))
        created.update(r[0] for r in conn.execute(insert, {"ids": list(part)}))
        conn.execute(sa.select(objects.c.diaObjectId)
                     .where(objects.c.diaObjectId == sa.any_(ids))
                     .order_by(objects.c.diaObjectId).with_for_update(), {"ids": list(part)})
    return created


def _stored_fits(conn: sa.Connection, touched: list[int]) -> dict[str, npt.NDArray[np.float64]]:
    """The stored BBB columns of ``touched`` (NaN where NULL or not stored), for the warm start."""
    c = objects.c
    got = {r[0]: r[1:] for r in select_in(conn, [c.diaObjectId, *(c[n] for n in BBB_COLUMNS)],
                                          c.diaObjectId, touched)}
    none = (None,) * len(BBB_COLUMNS)
    values = np.array([got.get(oid, none) for oid in touched], dtype=float).reshape(
        len(touched), len(BBB_COLUMNS))
    return {name: values[:, k] for k, name in enumerate(BBB_COLUMNS)}


def store_alerts(conn: sa.Connection, alerts: Sequence[Alert], *, bbb: bool = True,
                 bbb_budget_s: float | None = None, bbb_warm: bool = False,
                 dust: DustMap | None = None) -> StoreResult:
    """Store the sources of ``alerts`` and upsert the ``objects`` row of every object they touch.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction (nothing is committed here).
    alerts
        The batch, any order.
    bbb, bbb_budget_s, bbb_warm
        The Bazin-blackbody fit: on or off, its time budget for the batch, and whether it starts
        from each object's stored fit (settings ``bbb_fit``, ``bbb_fit_budget_s`` and
        ``bbb_warm_start``; see :func:`skysift.features.compute_features_many`).
    dust
        The SFD dust map for ``objects.ebv`` (setting ``sfd_dust_map``), or None.

    Returns
    -------
    StoreResult

    Raises
    ------
    StoreError
        The database refused a statement (the caller's transaction should be rolled back);
        :class:`~skysift.errors.StoreUnavailable` when it could not be reached.
    """
    with db_errors("store alerts", alerts=len(alerts)):
        return _store(conn, alerts, bbb=bbb, bbb_budget_s=bbb_budget_s, bbb_warm=bbb_warm,
                      dust=dust)


# complexity accepted (C901): the store's one transaction for a batch, step by step in the
# order it must run
def _store(conn: sa.Connection, alerts: Sequence[Alert], *, bbb: bool,  # noqa: C901
           bbb_budget_s: float | None, bbb_warm: bool, dust: DustMap | None) -> StoreResult:
    now = datetime.now(UTC)
    result = StoreResult()
    ordered = sorted(alerts, key=lambda a: (a.diaObjectId or 0, a.diaSourceId))
    # ids the batch carries; an alert whose history holds an id that is not a valid 64-bit id
    # is refused at once (nothing below could look it up)
    valid: list[Alert] = []
    for a in ordered:
        problem = trigger_refusal(a.diaSource, a.diaObject)
        problem = _bad_history_id(a) if problem is None else f"refused: {problem}"
        if problem is None:
            valid.append(a)
        else:
            result.refused.append((a, problem))
    # every id below is now an int in 1..2**63-1 (JSON digit strings were checked by value)
    all_src = {int(a.diaSource["diaSourceId"]) for a in valid}
    all_src.update(int(s["diaSourceId"]) for a in valid for s in a.prvDiaSources)
    all_forced = {int(f["diaForcedSourceId"]) for a in valid for f in a.prvDiaForcedSources}

    touched_all = sorted({oid for a in valid if (oid := _object_id(a.diaObjectId)) is not None})
    placeholders = _lock_objects(conn, touched_all)
    # the stored light curves of the touched objects: feature input, and most of the batch's
    # history is found here, so only the remaining ids need a primary-key check
    c = sources.c
    lc = select_in(conn, [c.diaObjectId, c.diaSourceId, c.midpointMjdTai, c.band, c.psfFlux,
                          c.psfFluxErr, c.reliability, c.ra, c.dec], c.diaObjectId, touched_all)
    stored: dict[int, tuple[Any, ...]] = {r[1]: (r[0], r[2], r[3], r[4]) for r in lc}
    rest = sorted(i for i in all_src if i not in stored)
    for r in select_in(conn, [c.diaSourceId, c.diaObjectId, c.midpointMjdTai, c.band, c.psfFlux],
                       c.diaSourceId, rest):
        stored[r[0]] = (r[1], r[2], r[3], r[4])
    new_src = {i for i in rest if i not in stored}
    new_forced = set(missing_ids(conn, forced_sources.c.diaForcedSourceId, sorted(all_forced)))

    # refuse what cannot be stored: a new history item with an impossible value, a triggering
    # diaSource that contradicts the stored one (or one earlier in this batch)
    kept: list[Alert] = []
    checked: _Checked = {}
    triggers: dict[int, Mapping[str, Any]] = {}
    for a in valid:
        sid = int(a.diaSource["diaSourceId"])
        problem = _vet_history(a, new_src, new_forced, checked)
        if problem is None and sid in stored:
            problem = _conflict(sid, stored[sid], a.diaSource)
        if problem is None and sid in triggers and triggers[sid] is not a.diaSource:
            first = triggers[sid]
            problem = _conflict(sid, (_object_id(first.get("diaObjectId")),
                                      first.get("midpointMjdTai"), first.get("band"),
                                      _num(first.get("psfFlux"))), a.diaSource)
            if problem is not None:
                problem = problem.replace("is stored already", "came earlier in this batch")
        if problem is not None:
            result.refused.append((a, problem))
            continue
        triggers.setdefault(sid, a.diaSource)
        kept.append(a)

    soft = _Soft(result.warnings)
    new_rows: list[tuple[Any, ...]] = []  # _SOURCE_NAMES
    forced_rows: list[tuple[Any, ...]] = []  # _FORCED_NAMES
    for a in kept:
        soft.origin = a.origin.describe()
        sid = int(a.diaSource["diaSourceId"])
        if sid in new_src:
            new_src.discard(sid)
            new_rows.append(_source_row(a.diaSource, soft))
        # a history item's row was built by the vetting when the item was clean
        if a.prvDiaSources and not new_src.isdisjoint(
                [int(s["diaSourceId"]) for s in a.prvDiaSources]):
            for s in a.prvDiaSources:
                sid = int(s["diaSourceId"])
                if sid in new_src:
                    new_src.discard(sid)
                    new_rows.append(_vetted_row(checked[("prvDiaSources", sid)], soft,
                                                _source_row))
        if a.prvDiaForcedSources and not new_forced.isdisjoint(
                [int(f["diaForcedSourceId"]) for f in a.prvDiaForcedSources]):
            for f in a.prvDiaForcedSources:
                fid = int(f["diaForcedSourceId"])
                if fid in new_forced:
                    new_forced.discard(fid)
                    forced_rows.append(_vetted_row(checked[("prvDiaForcedSources", fid)], soft,
                                                   _forced_row))
    new_rows.sort()  # by id (ids are unique: no tie reaches the other values)
    forced_rows.sort()
    insert_values(conn, sources, _SOURCE_NAMES, new_rows, "diaSourceId",
                  constants={"ingested": now})
    insert_values(conn, forced_sources, _FORCED_NAMES, forced_rows, "diaForcedSourceId")
    result.n_sources_new, result.n_forced_new = len(new_rows), len(forced_rows)
    touched = sorted({oid for a in kept if (oid := _object_id(a.diaObjectId)) is not None})
    if placeholders:  # rows made only to be locked, of objects whose every alert was refused
        unused = sorted(placeholders.difference(touched))
        for part in chunks(unused):
            conn.execute(sa.delete(objects).where(in_ids(conn, objects.c.diaObjectId, part)))
    if not touched:
        return result
    if len(touched) != len(touched_all):
        keep = set(touched)
        lc = [r for r in lc if r[0] in keep]
    ordered = kept
    chosen = _choose_dia_objects(conn, ordered, touched)

    group_of = {oid: i for i, oid in enumerate(touched)}
    curve = [tuple(r) for r in lc] + [(r[1], r[0], *r[2:9]) for r in new_rows if r[1] in group_of]
    arrays = SourceArrays.from_rows((r[1:] for r in curve), (group_of[r[0]] for r in curve))
    dia_objects = [chosen[o][1] if o in chosen else None for o in touched]
    rows = compute_features_many(arrays, touched, dia_objects, bbb=bbb, bbb_budget_s=bbb_budget_s,
                                 bbb_previous=_stored_fits(conn, touched) if bbb and bbb_warm
                                 else None, dust=dust)
    for oid, row in zip(touched, rows, strict=True):
        if oid in chosen:
            _, record, carrier_sid, text = chosen[oid]
            row["diaObjectSourceId"] = carrier_sid
            row["diaObject"] = text if text is not None else _dumps(record)
        else:
            row["diaObjectSourceId"] = None
            row["diaObject"] = None
        row["updated"] = now
    for oid, row in zip(touched, rows, strict=True):
        for name, bits in _INT_COLUMNS:
            value = row.get(name)
            if value is not None and not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
                row[name] = None
                result.warnings.append(f"diaObject {oid}: {name} {value} does not fit a "
                                       f"{bits}-bit column, stored as NULL")
    upsert(conn, objects, rows, "diaObjectId")
    result.object_ids = touched
    result.rows = dict(zip(touched, rows, strict=True))
    return result

