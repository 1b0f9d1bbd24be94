"""Filters run over the store, restricted to some objects, when something other than an alert
changes what they would see: annotations (skysift.annotations.trigger) and gravitational-wave
sky maps (:func:`run_skymap_filters`).

Each filter runs with its deadline and row cap, restricted to the objects concerned
(``AND objects.diaObjectId IN (...)``); its rows are produced to its topic with the header
``reason`` (lite and full records take their light curves from the store). A filter that fails
has its error recorded (``last_error``) and the others go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from skysift.config import Settings
from skysift.filters.active import CompiledFilters
from skysift.streams.deliver import LightCurve
from skysift.store.lightcurve import fetch_lightcurves, fetch_objects
from skysift.filters.active import filter_failure
from skysift.filters.repository import active_filters, record_error
from skysift.filters.sandbox import run_over_store
from skysift.streams.deliver import KAFKA_OUTPUTS, deliver_rows, row_object_id
from skysift.store.translate import db_errors
from skysift.streams.output import load_today_bytes, save_counts
from skysift.streams.records import utc_now_text

__all__ = ["GW_TABLES", "SKYMAP_TRIGGERS", "TriggerReport", "run_skymap_filters",
           "run_store_filters"]

log = logging.getLogger(__name__)
#: Filters reading these tables run when an event's map arrives or changes.
GW_TABLES = frozenset({"gw_hits", "gw_events"})
#: Every active filter (whatever its trigger) that reads a GW table runs on a new map.
SKYMAP_TRIGGERS = ("alert", "annotation", "both")


@dataclass
class TriggerReport:
    filters_run: int = 0
    records_produced: int = 0
    records_rejected: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    filter_errors: dict[str, str] = field(default_factory=dict)


_CACHE: Any = None


def _cache() -> Any:
    global _CACHE
    if _CACHE is None:
        _CACHE = CompiledFilters()
    return _CACHE


def _lightcurves(conn: sa.Connection, ids: list[int]) -> dict[int, Any]:
    objs = fetch_objects(conn, ids)
    lcs = fetch_lightcurves(conn, ids)
    out = {}
    for oid in ids:
        lc, raw = lcs.get(oid), (objs.get(oid) or {}).get("diaObject")
        out[oid] = LightCurve(
            dia_object=json.loads(raw) if isinstance(raw, str) else raw,
            sources=list(lc.diaSources) if lc is not None else [],
            forced=list(lc.diaForcedSources) if lc is not None else [])
    return out


def run_store_filters(engine: sa.Engine, settings: Settings, sink: Any, *,
                      triggers: tuple[str, ...], ids_for: Callable[[Any], list[int]],
                      reason: str) -> TriggerReport:
    """Run active filters with one of ``triggers`` over the store, each restricted to the
    objects ``ids_for(validated filter)`` names (an empty list: the filter does not run);
    produce their records with header ``reason`` to ``sink`` (a
    :class:`~skysift.streams.output.RecordSink`) and flush it. Email filters keep their
    matches for the next digest."""

    report = TriggerReport()
    cache = _cache()
    errors: dict[int, str | None] = {}
    email: list[tuple[Any, list, str]] = []
    with db_errors(f"run the {reason}-triggered filters"), engine.connect() as conn:
        filters = active_filters(conn, triggers)
        cache.refresh(conn)
        sink.today_bytes = load_today_bytes(conn)
        for flt in filters:
            try:
                vf = cache.get(flt)
            except Exception as exc:  # recorded on the filter
                errors[flt.id] = str(filter_failure(exc, flt.name))
                continue
            ids = sorted(set(ids_for(vf)))
            if not ids:
                continue
            report.filters_run += 1
            try:
                result = run_over_store(conn, vf, timeout_s=settings.filter_timeout_s,
                                        row_cap=settings.filter_row_cap, restrict_ids=ids,
                                        name=flt.name)
            except Exception as exc:  # recorded on the filter
                exc = filter_failure(exc, flt.name)
                errors[flt.id] = str(exc)
                report.filter_errors[flt.name] = str(exc)
                log.warning("filter %s (%s trigger) failed: %s", flt.name, reason, exc)
                continue
            if not result.rows:
                continue
            utc = utc_now_text()
            if flt.output == "email":
                email.append((flt, result.rows, utc))
                continue
            if flt.output not in KAFKA_OUTPUTS or not flt.topic:
                continue
            lcs: dict[int, Any] = {}
            if flt.output != "plain":
                lcs = _lightcurves(conn, [i for i in map(row_object_id, result.rows)
                                          if i is not None])
            produced, rejected = deliver_rows(
                sink, topic=flt.topic, filter_name=flt.name, output=flt.output,
                quota=flt.byte_quota, rows=result.rows, utc=utc, reason=reason,
                lightcurve_for=lcs.get)
            report.records_produced += produced
            report.records_rejected += rejected
            if produced:
                report.per_topic[flt.topic] = report.per_topic.get(flt.topic, 0) + produced
    sink.flush()
    with db_errors(f"record the {reason}-triggered filters' counts"), engine.begin() as conn:
        save_counts(conn, sink.take_counts())
        for fid, err in errors.items():
            record_error(conn, fid, err)
        if email:
            _queue_email(conn, settings, email)
    return report


def _queue_email(conn: sa.Connection, settings: Settings, email: list) -> None:
    """Email filters keep their annotation-triggered matches for the next digest."""
    try:
        from skysift.notify.digest import queue_matches
    except ImportError:  # the digests are not installed in this build
        return
    now = datetime.now(UTC)
    for flt, rows, utc in email:
        queue_matches(conn, settings, flt, rows, utc, lambda _oid: None, now)


def run_skymap_filters(engine: sa.Engine, settings: Settings, sink: Any,
                       changed: set[int]) -> TriggerReport:
    """Run every active filter that reads ``gw_hits`` or ``gw_events`` over the objects whose
    GW hits changed (an event's map arrived, was refined or retracted), with header
    ``reason=skymap``."""
    ids = sorted(changed)
    if not ids:
        return TriggerReport()
    return run_store_filters(
        engine, settings, sink, triggers=SKYMAP_TRIGGERS, reason="skymap",
        ids_for=lambda vf: ids if GW_TABLES.intersection(vf.tables) else [])
