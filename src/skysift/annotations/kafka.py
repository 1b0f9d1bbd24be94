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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from skysift.config import Settings

__all__ = ["AnnotationTotals", "ingest_annotations"]

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


def ingest_annotations(settings: Settings, *, engine: sa.Engine | None = None,
                       topic: str | None = None, group_id: str | None = None,
                       stop: Callable[[], bool] | None = None, idle_exit_s: float | None = None,
                       max_messages: int | None = None) -> AnnotationTotals:
    """Consume annotations until stopped (or idle for ``idle_exit_s``, or ``max_messages``)."""
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

    from skysift.alerts.deadletter import dead_letter_record
    from skysift.alerts.model import AlertOrigin
    from skysift.annotations.service import submit, trigger
    from skysift.store.database import open_store
    from skysift.streams.kafka import admin, consumer_config, producer_config
    from skysift.streams.output import RecordSink
    from skysift.streams.topics import create_topic

    engine = engine or open_store(settings.database_url)
    topic = topic or settings.annotations_topic
    create_topic(admin(settings), settings, topic)
    producer = Producer(producer_config(settings))
    sink = RecordSink(producer, max_message_bytes=settings.topic_max_message_bytes)
    consumer = Consumer(consumer_config(settings, group_id or settings.annotations_group_id))
    consumer.subscribe([topic])
    totals = AnnotationTotals()
    stop = stop or (lambda: False)
    last_message = time.monotonic()
    dlq_ready = False
    try:
        while not stop():
            msgs = consumer.consume(num_messages=settings.batch_size, timeout=settings.batch_wait_s)
            real = [m for m in msgs if m.error() is None]
            for m in msgs:
                if m.error() is not None and m.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka error on %s: %s", m.topic(), m.error().str())
            if not real:
                if not consumer.assignment():
                    last_message = time.monotonic()
                elif idle_exit_s is not None and time.monotonic() - last_message > idle_exit_s:
                    break
                continue
            last_message = time.monotonic()
            items: list[Any] = []
            owners: list[int] = []  # message index of each item
            dead: dict[int, str] = {}
            for n, m in enumerate(real):
                try:
                    value = json.loads(m.value() or b"")
                except (ValueError, UnicodeDecodeError):
                    dead[n] = "the message is not JSON"
                    continue
                for item in value if isinstance(value, list) else [value]:
                    items.append(item)
                    owners.append(n)
            result = submit(engine, items, user_id=None)
            for i, why, _ in result.rejected:
                dead.setdefault(owners[i], f"annotation {i}: {why}")
            last: dict[tuple[str, int], int] = {}
            for n, m in enumerate(real):
                last[(m.topic(), m.partition())] = m.offset()
                if n in dead:
                    origin = AlertOrigin(topic=m.topic(), partition=m.partition(),
                                         offset=m.offset())
                    dtopic, key, value, headers = dead_letter_record(m.value() or b"", origin,
                                                                     dead[n])
                    if not dlq_ready:
                        create_topic(admin(settings), settings, dtopic)
                        dlq_ready = True
                    producer.produce(dtopic, key=key, value=value, headers=headers)
            report = trigger(engine, settings, result.touched(), sink=sink)
            producer.flush(30)
            consumer.commit(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
                            asynchronous=False)
            totals.messages += len(real)
            totals.stored += len(result.stored)
            totals.rejected += len(result.rejected) + sum(
                1 for why in dead.values() if why == "the message is not JSON")
            if report is not None:
                totals.records_produced += report.records_produced
            if max_messages is not None and totals.messages >= max_messages:
                break
    finally:
        consumer.close()
        producer.flush(10)
    return totals
