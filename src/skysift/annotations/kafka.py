"""The Kafka path for high-volume annotators.

``skysift annotations ingest`` consumes JSON records from the ``annotations_topic`` setting
(default ``skysift-annotations``), each with the fields of ``/api/annotate/`` (``topic``,
``objectId``, ``classification``, ``version``, ``explanation``, ``classdict``, ``url``), one
annotation per message, or a list of them.

Trust model: this topic is internal. Whoever can produce to it may write any *active*
annotator's annotations, so only the operator's own services (or a broker ACL that lets each
annotator's principal write only there) should be allowed to produce. No token is carried.
A message that is not JSON, fails the checks, or names an unknown or inactive annotator is not
applied: it is produced unchanged to ``<topic>.dlq`` with the reason in its headers, and the rest
of the batch goes on. Offsets are committed after the batch is stored and its triggered filters'
records are flushed (at-least-once; a replayed annotation only replaces itself).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from skysift.alerts.model import AlertOrigin
from skysift.config import Settings
from skysift.errors import AlertDecodeError
from skysift.worker.handler import Letter, Outcome
from skysift.store.database import store_probe
from skysift.store.database import open_store
from skysift.streams.kafka import BrokerWatch, make_admin, make_consumer, make_producer
from skysift.streams.topics import create_topic, ensure_topics
from skysift.worker.kafkaloop import KafkaLoop, broker_probe
from skysift.worker.metrics import LoopMetrics
from skysift.worker.state import WorkerState
from skysift.streams.output import RecordSink
from skysift.annotations.service import submit, trigger
from skysift.store.translate import db_errors
from skysift.filters.repository import active_output_topics

__all__ = ["AnnotationHandler", "AnnotationMessage", "AnnotationTotals", "ingest_annotations"]

log = logging.getLogger(__name__)


@dataclass
class AnnotationTotals:
    messages: int = 0
    stored: int = 0
    rejected: int = 0
    records_produced: int = 0

    def summary(self) -> str:
        return (f"{self.messages} messages: {self.stored} annotations stored, {self.rejected} "
                f"rejected (dead-lettered); {self.records_produced} records produced")


@dataclass
class AnnotationMessage:
    """One message of the annotations topic: its annotations, bytes and origin."""

    annotations: list[Any]
    raw: bytes
    origin: AlertOrigin = field(default_factory=AlertOrigin)


class AnnotationHandler:
    """Annotations as the work of the batch loop (:class:`skysift.worker.handler.Handler`).

    Counts of stored and rejected annotations accumulate in :attr:`stored` and
    :attr:`rejected`.
    """

    name = "annotations"

    def __init__(self, settings: Settings, engine: sa.Engine, producer: Any) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self.sink = RecordSink(producer, max_message_bytes=settings.topic_max_message_bytes)
        self.stored = 0
        self.rejected = 0

    def decode(self, value: bytes, origin: AlertOrigin) -> AnnotationMessage:
        try:
            parsed = json.loads(value)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise AlertDecodeError("the message is not JSON", **origin.as_where()) from exc
        return AnnotationMessage(parsed if isinstance(parsed, list) else [parsed], bytes(value),
                                 origin)

    def process(self, items: Sequence[AnnotationMessage]) -> Outcome:
        flat: list[Any] = []
        owners: list[int] = []
        for n, message in enumerate(items):
            flat.extend(message.annotations)
            owners.extend([n] * len(message.annotations))
        with db_errors("store annotations"):
            result = submit(self.engine, flat, user_id=None)
        bad: dict[int, str] = {}
        for i, why, _ in result.rejected:
            bad.setdefault(owners[i], f"annotation {i}: {why}")
        report = trigger(self.engine, self.settings, result.touched(), sink=self.sink)
        self.stored += len(result.stored)
        self.rejected += len(result.rejected)
        return Outcome(processed=len(items) - len(bad),
                       rejected=[(items[n], why) for n, why in sorted(bad.items())],
                       records_produced=report.records_produced if report is not None else 0,
                       records_rejected=report.records_rejected if report is not None else 0,
                       report=report)

    def discard(self) -> None:
        self.sink.discard()

    def item_letter(self, item: AnnotationMessage, reason: str, outcome: str) -> Letter:
        return Letter(item.raw, item.origin, reason, outcome)

    def active_topics(self) -> set[str]:
        with db_errors("read the active filters' topics"), self.engine.connect() as conn:
            return active_output_topics(conn)

    def record_stats(self, processed: int, rejected: int, lag_s: float | None) -> None:
        return None  # the store's statistics count alerts

    def tick(self) -> None:
        return None

    def close(self) -> None:
        try:
            self.producer.flush(10)
        except Exception as exc:  # closing: say it, do not raise
            log.warning("closing the producer: %s", exc)


def ingest_annotations(settings: Settings, *, engine: sa.Engine | None = None,
                       topic: str | None = None, group_id: str | None = None,
                       stop: Callable[[], bool] | None = None, idle_exit_s: float | None = None,
                       max_messages: int | None = None, state: Any = None) -> AnnotationTotals:
    """Consume annotations until stopped (or idle for ``idle_exit_s``, or ``max_messages``),
    under the batch loop's failure policy (:mod:`skysift.worker`)."""

    engine = engine or open_store(settings.database_url)
    topic = topic or settings.annotations_topic
    admin = make_admin(settings)
    create_topic(admin, settings, topic)
    watch = BrokerWatch()
    producer = make_producer(settings, watch=watch)
    handler = AnnotationHandler(settings, engine, producer)
    consumer = make_consumer(settings, group_id or settings.annotations_group_id, watch=watch)
    loop = KafkaLoop(settings, handler, consumer=consumer, producer=producer, watch=watch,
                     topics=[topic], probe=lambda: store_probe(engine) or broker_probe(admin),
                     ensure_topics=lambda wanted: ensure_topics(admin, settings, wanted),
                     state=state or WorkerState("annotations"),
                     metrics=LoopMetrics("annotations"))
    try:
        result = loop.run(stop=stop, idle_exit_s=idle_exit_s, max_messages=max_messages)
    finally:
        consumer.close()
        handler.close()
    undecodable = result.outcomes.get("undecodable", 0)
    return AnnotationTotals(messages=result.messages, stored=handler.stored,
                            rejected=handler.rejected + undecodable,
                            records_produced=result.records_produced)
