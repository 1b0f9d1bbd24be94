"""Producing filter records to Kafka, under each filter's daily byte quota.

:class:`RecordSink` wraps a confluent-kafka Producer: it counts what each topic produced and
rejected (over quota, or too large for the topic), keeps the counts per UTC day in ``topic_stats``,
and :meth:`RecordSink.flush` raises :class:`~skysift.errors.DeliveryError` if any record was not
acknowledged, so the caller does not commit its input offsets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, UTC
from typing import Any

import sqlalchemy as sa

from skysift.errors import BrokerUnavailable, DeliveryError
from skysift.store.schema import topic_stats
from skysift.store.schema import topic_stats as ts
from skysift.store.statements import insert_statement

__all__ = ["RecordSink", "TopicCounts", "load_today_bytes", "save_counts"]

log = logging.getLogger(__name__)


@dataclass
class TopicCounts:
    records_produced: int = 0
    bytes_produced: int = 0
    records_rejected: int = 0
    bytes_rejected: int = 0
    last_record_at: datetime | None = None


def utc_today() -> date:
    return datetime.now(UTC).date()


def load_today_bytes(conn: sa.Connection, day: date | None = None) -> dict[str, int]:
    """Bytes each topic has produced today (for the quota)."""

    day = day or utc_today()
    rows = conn.execute(sa.select(topic_stats.c.topic, topic_stats.c.bytes_produced)
                        .where(topic_stats.c.day == day))
    return {r.topic: int(r.bytes_produced or 0) for r in rows}


def save_counts(conn: sa.Connection, counts: dict[str, TopicCounts],
                day: date | None = None) -> None:
    """Add ``counts`` to today's rows of ``topic_stats`` (create them when missing).

    One ``INSERT ... ON CONFLICT (topic, day) DO UPDATE`` adding to the stored counts, run for
    every counted topic at once: a batch touching hundreds of topics costs one statement."""

    day = day or utc_today()
    rows = [{"topic": topic, "day": day, "records_produced": c.records_produced,
             "bytes_produced": c.bytes_produced, "records_rejected": c.records_rejected,
             "bytes_rejected": c.bytes_rejected, "last_record_at": c.last_record_at}
            for topic, c in counts.items() if c.records_produced or c.records_rejected]
    if not rows:
        return
    stmt = insert_statement(conn, ts)
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(index_elements=[ts.c.topic, ts.c.day], set_={
        "records_produced": ts.c.records_produced + new.records_produced,
        "bytes_produced": ts.c.bytes_produced + new.bytes_produced,
        "records_rejected": ts.c.records_rejected + new.records_rejected,
        "bytes_rejected": ts.c.bytes_rejected + new.bytes_rejected,
        "last_record_at": sa.func.coalesce(new.last_record_at, ts.c.last_record_at),
    })
    conn.execute(stmt, rows)


#: Delivery errors that mean the broker was away or slow: the records may be produced again.
_TRANSIENT_DELIVERY = frozenset({
    "_MSG_TIMED_OUT", "_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "_PURGE_QUEUE",
    "_PURGE_INFLIGHT", "REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "LEADER_NOT_AVAILABLE", "NOT_LEADER_FOR_PARTITION",
    "NETWORK_EXCEPTION", "_NODE_UPDATE", "_WAIT_COORD", "BROKER_NOT_AVAILABLE"})
#: Delivery errors that mean the broker does not know the topic (deleted, or lost in a restart).
_MISSING_TOPIC = frozenset({"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION",
                            "UNKNOWN_TOPIC_ID"})
#: How long :meth:`RecordSink.send` waits for room in a full local queue before giving up.
QUEUE_FULL_WAIT_S = 60.0


@dataclass
class RecordSink:
    """Produce records, enforcing per-topic daily byte quotas; count everything.

    Parameters
    ----------
    producer
        A configured confluent_kafka.Producer.
    today_bytes
        Bytes already produced today per topic (from :func:`load_today_bytes`).
    max_message_bytes
        Records larger than this are rejected (counted), not sent.

    Notes
    -----
    Delivery failures are sorted when the sink is flushed: the broker away or slow (transient),
    the topic unknown to the broker (missing), or the broker refusing this one record (a record
    too large for the topic, say): such a record is counted as rejected and logged, like a
    record over quota, and the batch goes on.
    """

    producer: Any
    today_bytes: dict[str, int] = field(default_factory=dict)
    max_message_bytes: int = 10 * 1024 * 1024
    counts: dict[str, TopicCounts] = field(default_factory=dict)
    failures: list[tuple[str, str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # a closure over the list, not a bound method: the producer must not keep the sink (and
        # so itself) alive in a reference cycle after its owner lets go of it
        failures = self.failures

        def on_delivery(err: Any, msg: Any) -> None:
            if err is not None:
                value = msg.value()
                failures.append((msg.topic(), err.name(), err.str(),
                                 len(value) if value is not None else 0))

        self._on_delivery = on_delivery

    def send(self, topic: str, key: bytes | None, value: bytes, *, quota: int,
             headers: list[tuple[str, bytes]] | None = None) -> bool:
        """Produce one record unless it would pass the topic's quota (``-1`` = unlimited).

        Raises
        ------
        BrokerUnavailable
            The producer's local queue stayed full for :data:`QUEUE_FULL_WAIT_S` (the broker is
            not taking records).
        """
        c = self.counts.setdefault(topic, TopicCounts())
        size = len(value)
        used = self.today_bytes.get(topic, 0)
        if (quota >= 0 and used + size > quota) or size > self.max_message_bytes:
            c.records_rejected += 1
            c.bytes_rejected += size
            return False
        waited = 0.0
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, headers=headers,
                                      on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let it drain
                if waited >= QUEUE_FULL_WAIT_S:
                    raise BrokerUnavailable(
                        f"the producer's queue stayed full for {QUEUE_FULL_WAIT_S:.0f} s: "
                        "the broker is not taking records", topic=topic) from None
                self.producer.poll(0.5)
                waited += 0.5
        self.producer.poll(0)
        self.today_bytes[topic] = used + size
        c.records_produced += 1
        c.bytes_produced += size
        c.last_record_at = datetime.now(UTC)
        return True

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every record to be acknowledged.

        Records the broker refused for themselves are moved from produced to rejected in the
        counts (and logged); the rest must have been delivered.

        Raises
        ------
        DeliveryError
            Records are still queued after ``timeout``, or failed because the broker was away
            (``transient``), or because it did not know their topic (``missing_topics``).
        """
        remaining = self.producer.flush(timeout)
        failures = list(self.failures)
        self.failures.clear()
        if remaining:
            raise DeliveryError(f"{remaining} records not delivered within {timeout:.0f} s: "
                                "the broker is away or slow", transient=True)
        missing = {t for t, name, _, _ in failures if name in _MISSING_TOPIC}
        transient = [f for f in failures if f[1] in _TRANSIENT_DELIVERY]
        refused = [f for f in failures if f[1] not in _MISSING_TOPIC and f[1] not in
                   _TRANSIENT_DELIVERY]
        for topic, _name, text, size in refused:
            c = self.counts.setdefault(topic, TopicCounts())
            c.records_produced -= 1
            c.bytes_produced -= size
            c.records_rejected += 1
            c.bytes_rejected += size
            log.warning("the broker refused a record of %d bytes for %s: %s", size, topic, text)
        if missing or transient:
            first = (transient or [f for f in failures if f[0] in missing])[0]
            raise DeliveryError(
                f"{len(transient) + sum(1 for f in failures if f[0] in missing)} records failed "
                f"delivery; first: {first[0]}: {first[2]}",
                transient=bool(transient), missing_topics=frozenset(missing))

    def discard(self) -> None:
        """Drop every record not yet delivered and forget this batch's counts (before the batch
        is done again: nothing of the failed attempt is left to be delivered twice)."""
        purge = getattr(self.producer, "purge", None)
        if purge is not None:
            purge(in_queue=True, in_flight=False)
        self.producer.poll(0)
        self.producer.flush(0)
        self.failures.clear()
        for topic, c in self.counts.items():
            self.today_bytes[topic] = self.today_bytes.get(topic, 0) - c.bytes_produced
        self.counts = {}

    def take_counts(self) -> dict[str, TopicCounts]:
        """The counts since the last call (and reset them)."""
        counts, self.counts = self.counts, {}
        return counts
