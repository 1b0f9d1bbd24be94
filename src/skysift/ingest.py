"""Running alerts through the pipeline: from files, or from Kafka in a consumer group.

Bad input never stops a run and is never dropped silently: each bad file or message is logged with
where it came from (file, or topic/partition/offset), kept in a dead-letter place (a folder for
files, the Kafka topic ``<input topic>.dlq`` for messages) with the reason, and counted.

Kafka delivery is at-least-once: a batch's input offsets are committed only after the store
transaction committed and the producer flushed. If a batch fails (database or broker trouble), the
consumer seeks back to the batch's first offsets and tries again after a pause.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa

from skysift.alerts.model import Alert, AlertOrigin
from skysift.config import Settings
from skysift.errors import AlertDecodeError, SkysiftError

__all__ = ["IngestTotals", "ingest_files", "ingest_kafka", "StopFlag", "open_pipeline"]

log = logging.getLogger(__name__)


@dataclass
class IngestTotals:
    """Counts of a whole run."""

    ingested: int = 0
    rejected: int = 0
    batches: int = 0
    records_produced: int = 0
    records_rejected: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    dead_letter: str | None = None
    filter_errors: dict[str, str] = field(default_factory=dict)

    def add(self, report: Any) -> None:
        self.batches += 1
        self.ingested += report.alerts
        self.records_produced += report.records_produced
        self.records_rejected += report.records_rejected
        for t, n in report.per_topic.items():
            self.per_topic[t] = self.per_topic.get(t, 0) + n
        self.filter_errors.update(report.filter_errors)

    def summary(self) -> str:
        text = f"ingested {self.ingested}, rejected {self.rejected}"
        if self.rejected and self.dead_letter:
            text += f", see {self.dead_letter}"
        return text + f"; {self.records_produced} records produced"


class StopFlag:
    """Set by SIGINT/SIGTERM (or by a caller) to end a Kafka ingest loop after the batch."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> "StopFlag":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.event.set())
        return self

    def __bool__(self) -> bool:
        return self.event.is_set()

    def __call__(self) -> bool:
        """Whether to stop (a StopFlag is also the ``stop`` callable of :func:`ingest_kafka`)."""
        return self.event.is_set()


def open_pipeline(settings: Settings, engine: sa.Engine | None = None):
    """The store engine, a producer and a Pipeline for these settings."""
    from confluent_kafka import Producer

    from skysift.pipeline import Pipeline
    from skysift.store.database import open_store
    from skysift.streams.kafka import producer_config

    engine = engine or open_store(settings.database_url)
    producer = Producer(producer_config(settings))
    return engine, producer, Pipeline(settings, engine, producer)


def _record_ingest_stats(engine: sa.Engine, ingested: int, rejected: int, lag_s: float | None) -> None:
    from skysift.store.schema import ingest_stats as st

    now = datetime.now(timezone.utc)
    day = now.date()
    with engine.begin() as conn:
        done = conn.execute(st.update().where(st.c.day == day).values(
            alerts_ingested=st.c.alerts_ingested + ingested,
            alerts_rejected=st.c.alerts_rejected + rejected,
            last_batch_at=now, last_batch_lag_s=lag_s))
        if done.rowcount == 0:
            conn.execute(st.insert().values(day=day, alerts_ingested=ingested,
                                            alerts_rejected=rejected, last_batch_at=now,
                                            last_batch_lag_s=lag_s))


# ------------------------------------------------------------------------------------- files
def ingest_files(settings: Settings, paths: Iterable[str | Path], *, progress: bool = True,
                 engine: sa.Engine | None = None) -> IngestTotals:
    """Run alert files (any form skysift reads) through the whole pipeline."""
    from tqdm import tqdm

    from skysift.alerts.deadletter import DeadLetterFolder
    from skysift.alerts.files import iter_alert_files, read_alerts

    engine, producer, pipeline = open_pipeline(settings, engine)
    files = list(iter_alert_files(paths))
    dead = DeadLetterFolder(settings.dead_letter_dir)
    totals = IngestTotals(dead_letter=str(settings.dead_letter_dir))
    batch: list[Alert] = []

    def flush_batch() -> None:
        if batch:
            totals.add(pipeline.process(batch))
            _record_ingest_stats(engine, len(batch), 0, None)
            batch.clear()

    bar = tqdm(files, unit="file", desc="ingest", disable=not progress)
    for path in bar:
        for item in read_alerts(path):
            if isinstance(item, AlertDecodeError):
                totals.rejected += 1
                log.warning("rejected %s", item)
                # raw=None: the folder copies the bad file itself, once per file
                dead.keep(None, AlertOrigin(path=str(path), index=getattr(item, "record", None)),
                          str(item))
                _record_ingest_stats(engine, 0, 1, None)
                continue
            batch.append(item)
            if len(batch) >= settings.batch_size:
                flush_batch()
    flush_batch()
    _notifier(settings, engine).tick(force=True)  # a first match is emailed at once
    return totals


def _notifier(settings: Settings, engine: sa.Engine):
    """The email pass the ingest loops run every ``notify_interval_s`` (skysift.notify)."""
    from skysift.notify import Notifier

    return Notifier(settings, engine)


# ------------------------------------------------------------------------------------- Kafka
def _subscription(topics: Sequence[str]) -> list[str]:
    """Topic names as given; a name with regex characters becomes a ``^`` pattern."""
    out = []
    for t in topics:
        if t.startswith("^") or not re.search(r"[*+?\[\]()|\\]", t):
            out.append(t)
        else:
            out.append("^" + t)
    return out


def ingest_kafka(settings: Settings, topics: Sequence[str], *, group_id: str | None = None,
                 stop: StopFlag | Callable[[], bool] | None = None, idle_exit_s: float | None = None,
                 max_alerts: int | None = None, engine: sa.Engine | None = None,
                 on_batch: Callable[[Any, IngestTotals], None] | None = None) -> IngestTotals:
    """Consume alerts from Kafka until stopped (or idle for ``idle_exit_s``, or ``max_alerts``)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from skysift.alerts.deadletter import dead_letter_record
    from skysift.alerts.decode import decode_message
    from skysift.streams.kafka import admin, consumer_config
    from skysift.streams.topics import create_topic

    engine, producer, pipeline = open_pipeline(settings, engine)
    pipeline.prepare()
    consumer = Consumer(consumer_config(settings, group_id or settings.ingest_group_id))
    consumer.subscribe(_subscription(topics))
    totals = IngestTotals(dead_letter=", ".join(f"{t}.dlq" for t in topics))
    if stop is None:  # not `stop or ...`: an unset StopFlag is falsy too
        stop = lambda: False  # noqa: E731
    last_message = time.monotonic()
    backoff = 1.0
    dlq_ready: set[str] = set()
    notifier = _notifier(settings, engine)
    try:
        while not stop():
            notifier.tick()  # due digests, failure notices, expiries (every notify_interval_s)
            t_consume = time.perf_counter()
            msgs = consumer.consume(num_messages=settings.batch_size, timeout=settings.batch_wait_s)
            t_decode = time.perf_counter()
            real = []
            for m in msgs:
                err = m.error()
                if err is None:
                    real.append(m)
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka error on %s: %s", m.topic(), err.str())
            if not real:
                if not consumer.assignment():  # still joining the group: not idle yet
                    last_message = time.monotonic()
                elif idle_exit_s is not None and time.monotonic() - last_message > idle_exit_s:
                    break
                continue
            last_message = time.monotonic()
            alerts: list[Alert] = []
            dead: list[tuple[str, bytes, bytes, Any]] = []
            first: dict[tuple[str, int], int] = {}
            last: dict[tuple[str, int], int] = {}
            arrivals: list[float] = []
            for m in real:
                tp = (m.topic(), m.partition())
                first.setdefault(tp, m.offset())
                last[tp] = m.offset()
                ts_type, ts = m.timestamp()
                origin = AlertOrigin(topic=m.topic(), partition=m.partition(), offset=m.offset(),
                                     timestamp_ms=ts if ts_type else None)
                if ts_type:
                    arrivals.append(ts / 1000.0)
                try:
                    alerts.append(decode_message(m.value() or b"", origin,
                                                 registry_url=settings.schema_registry))
                except AlertDecodeError as exc:
                    log.warning("rejected %s", exc)
                    dead.append(dead_letter_record(m.value() or b"", origin, str(exc)))
            decode_s = time.perf_counter() - t_decode
            try:
                report = pipeline.process(alerts)
                report.seconds = {"consume": t_decode - t_consume, "decode": decode_s,
                                  **report.seconds}
                t_commit = time.perf_counter()  # dead letters, flush, commit, stats
                for topic, key, value, headers in dead:
                    if topic not in dlq_ready:
                        create_topic(admin(settings), settings, topic)
                        dlq_ready.add(topic)
                    producer.produce(topic, key=key, value=value, headers=headers)
                pipeline.sink.flush()
                consumer.commit(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
                                asynchronous=False)
            except SkysiftError as exc:
                log.error("batch failed, will retry from its first offsets in %.0f s: %s",
                          backoff, exc)
                for (t, p), o in first.items():
                    consumer.seek(TopicPartition(t, p, o))
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if report.email_matches:
                notifier.tick(force=True)  # a filter's first match is emailed at once
            totals.rejected += len(dead)
            lag = (time.time() - min(arrivals)) if arrivals else None
            _record_ingest_stats(engine, len(alerts), len(dead), lag)
            report.seconds["commit"] = time.perf_counter() - t_commit
            totals.add(report)
            if on_batch is not None:
                on_batch(report, totals)
            # let this batch's messages and alerts go before the next consume: otherwise two
            # batches of ~120 KB alerts are alive at once
            del msgs, real, alerts, dead, report
            if max_alerts is not None and totals.ingested + totals.rejected >= max_alerts:
                break
    finally:
        consumer.close()
        producer.flush(10)
    return totals
