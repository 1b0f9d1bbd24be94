"""Accepting annotations: check, authorise, store, then trigger the filters that use them.

Shared by ``/api/annotate/``, ``/api/annotatelist/`` and the Kafka path. A batch is checked entry
by entry: the good entries are stored (one transaction) and each bad one is reported with its
index and reason, instead of stopping at the first as Lasair does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from skysift.annotations.store import (
    Annotation, AnnotationRejected, check_annotation, check_writer, store_annotations,
    writable_annotators)
from skysift.config import Settings
from skysift.streams.kafka import close_shared
from skysift.streams.kafka import shared_producer
from skysift.streams.output import RecordSink
from skysift.store.schema import filters
from skysift.annotations.trigger import run_annotation_filters

__all__ = ["Submitted", "submit", "trigger"]

log = logging.getLogger(__name__)


@dataclass
class Submitted:
    stored: list[Annotation] = field(default_factory=list)
    #: (index in the batch, reason, HTTP-like status: 400 bad input, 403 not the owner)
    rejected: list[tuple[int, str, int]] = field(default_factory=list)

    def touched(self) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for a in self.stored:
            out.setdefault(a.topic, set()).add(a.diaObjectId)
        return out


def submit(engine: sa.Engine, items: Sequence[Mapping[str, Any]], *,
           user_id: int | None) -> Submitted:
    """Check and store ``items``. ``user_id`` is the writer (only an annotator's owner may
    write to it); None is the trusted Kafka path, which needs only an existing, active
    annotator."""
    result = Submitted()
    checked: list[tuple[int, Annotation]] = []
    for i, item in enumerate(items):
        try:
            checked.append((i, check_annotation(item)))
        except AnnotationRejected as exc:
            result.rejected.append((i, exc.message, exc.status))
    with engine.begin() as conn:
        known = writable_annotators(conn, {a.topic for _, a in checked})
        good: list[Annotation] = []
        for i, a in checked:
            try:
                check_writer(known.get(a.topic), a.topic, user_id)
            except AnnotationRejected as exc:
                result.rejected.append((i, exc.message, exc.status))
                continue
            good.append(a)
        store_annotations(conn, good)
    result.stored = good
    result.rejected.sort()
    return result


def close_producers(timeout: float = 10.0) -> None:
    """Deliver what the shared producers hold and let them go (tests call it before their
    broker stops; at exit it runs by itself)."""

    close_shared(timeout)


def _sink(settings: Settings) -> Any:
    return RecordSink(shared_producer(settings),
                      max_message_bytes=settings.topic_max_message_bytes)


def has_triggered_filters(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(filters.c.id).where(
            filters.c.trigger.in_(("annotation", "both"))).limit(1)).first() is not None


def trigger(engine: sa.Engine, settings: Settings, touched: Mapping[str, set[int]],
            sink: Any = None) -> Any:
    """Run the filters triggered by these annotations (a no-op when none is active)."""

    if not touched or not has_triggered_filters(engine):
        return None
    return run_annotation_filters(engine, settings, sink or _sink(settings), touched)


def trigger_logged(engine: sa.Engine, settings: Settings, touched: Mapping[str, set[int]]) -> None:
    """:func:`trigger`, logging instead of raising (for the API's background task)."""
    try:
        report = trigger(engine, settings, touched)
        if report is not None:
            log.info("annotations triggered %d filter(s), %d record(s)", report.filters_run,
                     report.records_produced)
    except Exception:  # the annotations are stored; the log says what failed
        log.exception("annotation-triggered filters failed")
