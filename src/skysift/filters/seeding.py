"""Seeding a filter's topic: emptied and refilled with its latest matches when it is saved.

Lasair empties a filter's topic and seeds it with 10 records whenever the filter is edited; here
up to ``seed_records`` records, most recent objects first, with the Kafka header
``reason=reset``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa

from skysift.config import Settings
from skysift.errors import FilterError
from skysift.filters.repository import Filter, record_error
from skysift.filters.sandbox import run_filter
from skysift.store.lightcurve import fetch_lightcurves, fetch_objects
from skysift.streams.deliver import LightCurve, deliver_rows, row_object_id
from skysift.streams.kafka import shared_admin, shared_producer
from skysift.streams.output import RecordSink, save_counts
from skysift.streams.records import utc_now_text
from skysift.streams.topics import recreate_topic

__all__ = ["reset_topic"]

log = logging.getLogger(__name__)


def reset_topic(engine: sa.Engine, settings: Settings, flt: Filter) -> int:
    """Empty the filter's topic and seed it with up to ``seed_records`` records (reason reset).

    The seed query reads the store on its own connection (no write lock held); the records go
    through the process's shared producer. A seed query that fails (past its deadline, say)
    leaves the topic empty and is recorded on the filter (``last_error``); the save stands.
    """
    assert flt.topic is not None
    recreate_topic(shared_admin(settings), settings, flt.topic)
    lightcurves: dict[int, Any] = {}
    with engine.connect() as conn:
        try:
            result = run_filter(conn, settings, flt.sql, name=flt.name,
                                limit=settings.seed_records, recent_first=True,
                                user_id=flt.user_id)
        except FilterError as exc:
            log.warning("topic %s emptied, not seeded: %s", flt.topic, exc)
            conn.rollback()
            with engine.begin() as write:
                record_error(write, flt.id, f"seeding the topic: {exc}")
            return 0
        rows = result.rows[: settings.seed_records]
        if flt.output != "plain" and rows:
            ids = [i for i in (row_object_id(r) for r in rows) if i is not None]
            objs = fetch_objects(conn, ids)
            lcs = fetch_lightcurves(conn, ids)
            for oid in ids:
                lc = lcs.get(oid)
                obj = objs.get(oid) or {}
                lightcurves[oid] = LightCurve(
                    dia_object=_dia_object_of(obj),
                    sources=list(lc.diaSources) if lc is not None else [],
                    forced=list(lc.diaForcedSources) if lc is not None else [])
    sink = RecordSink(shared_producer(settings),
                      max_message_bytes=settings.topic_max_message_bytes)
    produced, _ = deliver_rows(
        sink, topic=flt.topic, filter_name=flt.name, output=flt.output, quota=-1, rows=rows,
        utc=utc_now_text(), reason="reset", lightcurve_for=lightcurves.get)
    sink.flush()
    with engine.begin() as conn:
        save_counts(conn, sink.take_counts())
    log.info("topic %s emptied and seeded with %d records", flt.topic, produced)
    return produced


def _dia_object_of(obj: dict) -> dict | None:
    raw = obj.get("diaObject")
    if raw is None:
        return None
    return json.loads(raw) if isinstance(raw, str) else raw
