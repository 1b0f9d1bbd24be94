"""Filters triggered by annotations.

When annotations arrive (the API or the Kafka path), every active filter with trigger
``annotation`` or ``both`` that reads one of the annotated annotators runs over the store,
restricted to the annotated objects, with header ``reason=annotation``
(:func:`skysift.filters.trigger.run_store_filters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from skysift.config import Settings
from skysift.filters.trigger import TriggerReport, run_store_filters

__all__ = ["TriggerReport", "run_annotation_filters"]

TRIGGERS = ("annotation", "both")


def run_annotation_filters(engine: sa.Engine, settings: Settings, sink: Any,
                           touched: Mapping[str, set[int]]) -> TriggerReport:
    """Run the annotation-triggered filters over ``touched`` ({topic: object ids}), produce
    their records to ``sink`` (a :class:`~skysift.streams.output.RecordSink`) and flush it."""
    touched = {t: set(ids) for t, ids in touched.items() if ids}
    if not touched:
        return TriggerReport()

    def ids_for(vf: Any) -> list[int]:
        used = [t for t in vf.annotators if t in touched]
        return sorted(set().union(*(touched[t] for t in used))) if used else []

    return run_store_filters(engine, settings, sink, triggers=TRIGGERS, ids_for=ids_for,
                             reason="annotation")
