"""Running alerts through the pipeline: from files, or from Kafka in a consumer group.

:class:`AlertHandler` is the alert work of the batch loop (:mod:`skysift.worker`): decode a
message, run a batch through the :class:`~skysift.pipeline.Pipeline`, count it.
:func:`ingest_kafka` and :func:`ingest_files` run it under the loop's one failure policy:

- bad input never stops a run and is never dropped silently: each message or record that is not
  an alert, that carries an impossible value, or that makes processing fail when alone is logged
  with where it came from, kept with the reason (``<input topic>.dlq`` for messages, confirmed
  before the commit; the dead-letter folder for files) and counted;
- a database or broker that is away is waited for (the batch is kept and tried again), said once
  per incident;
- Kafka delivery is at-least-once: a batch's input offsets are committed only after its store
  transaction committed, its records and dead letters were confirmed by the broker.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from skysift.alerts.decode import decode_message
from skysift.alerts.model import Alert, AlertOrigin
from skysift.config import Settings
from skysift.filters.repository import active_output_topics
from skysift.pipeline import BatchReport, Pipeline
from skysift.store.database import open_store, store_probe
from skysift.store.translate import db_errors
from skysift.streams.kafka import (
    BrokerWatch,
    make_admin,
    make_consumer,
    make_producer,
)
from skysift.streams.topics import ensure_topics
from skysift.worker.handler import Letter, Outcome
from skysift.worker.kafkaloop import KafkaLoop, LoopTotals, broker_probe
from skysift.worker.metrics import LoopMetrics
from skysift.worker.state import WorkerState
from skysift.store.schema import ingest_stats as st
from skysift.alerts.files import iter_alert_files, read_alerts
from skysift.worker.fileloop import run_files
from skysift.notify import Notifier
from skysift.archive import archive_store, decode_archived, iter_night, nights_to_run
from skysift.config import replace
from skysift.errors import AlertDecodeError, ArchiveError

__all__ = ["AlertHandler", "IngestTotals", "StopFlag", "ingest_archive", "ingest_files",
           "ingest_kafka",
           "open_pipeline", "store_probe"]

log = logging.getLogger(__name__)


@dataclass
class IngestTotals:
    """Counts of a whole run.

    ``rejected`` counts every alert or message kept as a dead letter; ``outcomes`` splits them
    (``undecodable``, ``refused``, ``poison``). ``nulled`` counts values stored as NULL.
    """

    ingested: int = 0
    rejected: int = 0
    batches: int = 0
    records_produced: int = 0
    records_rejected: int = 0
    nulled: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    dead_letter: str | None = None
    filter_errors: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def add_reports(self, reports: Iterable[BatchReport]) -> None:
        for report in reports:
            for t, n in report.per_topic.items():
                self.per_topic[t] = self.per_topic.get(t, 0) + n
            self.filter_errors.update(report.filter_errors)

    def take(self, loop: LoopTotals) -> IngestTotals:
        self.ingested, self.rejected, self.batches = loop.processed, loop.rejected, loop.batches
        self.records_produced, self.records_rejected = loop.records_produced, loop.records_rejected
        self.nulled, self.outcomes, self.failures = loop.nulled, loop.outcomes, loop.failures
        return self

    def summary(self) -> str:
        text = f"ingested {self.ingested}, rejected {self.rejected}"
        if self.outcomes:
            text += " (" + ", ".join(f"{n} {k}" for k, n in sorted(self.outcomes.items())) + ")"
        if self.rejected and self.dead_letter:
            text += f", see {self.dead_letter}"
        if self.nulled:
            text += f"; {self.nulled} values stored as NULL"
        return text + f"; {self.records_produced} records produced"


class StopFlag:
    """Set by SIGINT/SIGTERM (or by a caller) to end a Kafka ingest loop after the batch."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.event.set())
        return self

    def __bool__(self) -> bool:
        return self.event.is_set()

    def __call__(self) -> bool:
        """Whether to stop (a StopFlag is also the ``stop`` callable of :func:`ingest_kafka`)."""
        return self.event.is_set()


def open_pipeline(settings: Settings, engine: sa.Engine | None = None,
                  watch: BrokerWatch | None = None) -> tuple[sa.Engine, Any, Pipeline]:
    """The store engine, a producer and a Pipeline for these settings."""
    own_engine = engine is None
    engine = engine or open_store(settings.database_url, checkpoint_in_background=True)
    producer = make_producer(settings, watch=watch)
    pipeline = Pipeline(settings, engine, producer)
    pipeline.owns_engine = own_engine  # disposed by pipeline.close() (its last WAL checkpoint)
    return engine, producer, pipeline


def _record_ingest_stats(engine: sa.Engine, ingested: int, rejected: int,
                         lag_s: float | None) -> None:
    now = datetime.now(UTC)
    day = now.date()
    with db_errors("count the batch"), engine.begin() as conn:
        done = conn.execute(st.update().where(st.c.day == day).values(
            alerts_ingested=st.c.alerts_ingested + ingested,
            alerts_rejected=st.c.alerts_rejected + rejected,
            last_batch_at=now, last_batch_lag_s=lag_s))
        if done.rowcount == 0:
            conn.execute(st.insert().values(day=day, alerts_ingested=ingested,
                                            alerts_rejected=rejected, last_batch_at=now,
                                            last_batch_lag_s=lag_s))


class AlertHandler:
    """Alerts as the work of a batch loop (:class:`skysift.worker.handler.Handler`)."""

    name = "alerts"

    def __init__(self, settings: Settings, engine: sa.Engine, producer: Any,
                 pipeline: Pipeline | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self.pipeline = pipeline or Pipeline(settings, engine, producer)
        self.notifier = Notifier(settings, engine)

    def decode(self, value: bytes, origin: AlertOrigin) -> Alert:
        return decode_message(value, origin, registry_url=self.settings.schema_registry)

    def process(self, items: Sequence[Alert]) -> Outcome:
        report = self.pipeline.process(items)
        if report.email_matches:
            self.tick(force=True)  # a filter's first match is emailed at once
        return Outcome(processed=report.alerts, rejected=list(report.refused),
                       records_produced=report.records_produced,
                       records_rejected=report.records_rejected, warnings=report.warnings,
                       seconds=dict(report.seconds), report=report)

    def discard(self) -> None:
        self.pipeline.sink.discard()

    def item_letter(self, item: Alert, reason: str, outcome: str) -> Letter:
        raw = item.raw if item.origin.path is None else None
        return Letter(raw, item.origin, reason, outcome)

    def active_topics(self) -> set[str]:
        with db_errors("read the active filters' topics"), self.engine.connect() as conn:
            return active_output_topics(conn)

    def record_stats(self, processed: int, rejected: int, lag_s: float | None) -> None:
        _record_ingest_stats(self.engine, processed, rejected, lag_s)

    def tick(self, force: bool = False) -> None:
        """Due digests, failure notices and expiries (every ``notify_interval_s``)."""
        try:
            self.notifier.tick(force=force)
        except Exception as exc:  # email trouble never stops ingest
            log.warning("the email pass failed (it runs again later): %s", exc)

    def close(self) -> None:
        try:
            self.producer.flush(10)
        except Exception as exc:  # closing: say it, do not raise
            log.warning("closing the producer: %s", exc)
        self.pipeline.close()


def _totals_collector(totals: IngestTotals,
                      on_batch: Callable[[Any, IngestTotals], None] | None
                      ) -> Callable[[Outcome, LoopTotals], None]:
    def collect(outcome: Outcome, loop: LoopTotals) -> None:
        reports = [r for r in (outcome.report or []) if isinstance(r, BatchReport)]
        totals.add_reports(reports)
        totals.take(loop)
        if on_batch is not None:
            view = BatchReport(alerts=outcome.processed, records_produced=outcome.records_produced,
                               records_rejected=outcome.records_rejected,
                               seconds=outcome.seconds, warnings=outcome.warnings)
            for r in reports:
                view.per_topic.update(r.per_topic)
                view.filter_errors.update(r.filter_errors)
                view.email_matches += r.email_matches
                view.objects += r.objects
                view.filters_run += r.filters_run
            on_batch(view, totals)

    return collect


# ------------------------------------------------------------------------------------- files
def ingest_files(settings: Settings, paths: Iterable[str | Path], *, progress: bool = True,
                 engine: sa.Engine | None = None, state: WorkerState | None = None,
                 stop: Callable[[], bool] | None = None,
                 on_batch: Callable[[Any, IngestTotals], None] | None = None) -> IngestTotals:
    """Run alert files (any form skysift reads) through the whole pipeline."""

    engine, producer, pipeline = open_pipeline(settings, engine)
    handler = AlertHandler(settings, engine, producer, pipeline)
    files = list(iter_alert_files(paths))
    totals = IngestTotals(dead_letter=str(settings.dead_letter_dir))
    try:
        loop = run_files(settings, handler, paths, read=read_alerts, files=files,
                         probe=lambda: store_probe(engine), state=state or WorkerState("alerts"),
                         metrics=LoopMetrics("alerts"), progress=progress, stop=stop,
                         on_batch=_totals_collector(totals, on_batch))
        totals.take(loop)
        handler.tick(force=True)  # a first match is emailed at once
    finally:
        handler.close()
    return totals


# ----------------------------------------------------------------------------------- archive
def ingest_archive(settings: Settings, nights: Sequence[str], *, progress: bool = True,
                   produce: bool = False, engine: sa.Engine | None = None,
                   state: WorkerState | None = None, stop: Callable[[], bool] | None = None,
                   on_batch: Callable[[Any, IngestTotals], None] | None = None) -> IngestTotals:
    """Store archived nights again, in the order they were stored: a store rebuilt from the
    archive (which is read, not written again). An archived alert that cannot be read is
    dead-lettered with its night, file and record; an alert archived twice is stored once;
    the rest goes on.

    By default no filter runs (a rebuild must not send users their records again);
    ``produce`` runs the active filters and produces their records with ``reason=replay``.

    Raises
    ------
    ArchiveError
        The archive holds none of ``nights``.
    """
    store = archive_store(settings)
    wanted = list(nights_to_run(settings, nights))  # ArchiveError: none of them
    for night in sorted(set(nights) - set(wanted)):
        log.warning("the archive holds no night %s: skipped", night)

    seen: set[int] = set()

    def read(path: Path) -> Iterable[Alert | AlertDecodeError]:
        for item in iter_night(store, path.name):
            if isinstance(item, ArchiveError):
                yield AlertDecodeError(item.message, **item.where)
                continue
            if item.record["diaSourceId"] in seen:
                continue  # archived twice (a batch Kafka delivered again after a crash)
            seen.add(item.record["diaSourceId"])
            try:
                yield decode_archived(item, registry_url=settings.schema_registry)
            except ArchiveError as exc:
                yield AlertDecodeError(exc.message, **exc.where)

    settings = replace(settings, archive_nights=0)  # read the archive, do not write it again
    engine, producer, pipeline = open_pipeline(settings, engine)
    pipeline.run_filters = produce
    pipeline.reason = "replay"
    handler = AlertHandler(settings, engine, producer, pipeline)
    totals = IngestTotals(dead_letter=str(settings.dead_letter_dir))
    try:
        loop = run_files(settings, handler, wanted, read=read,
                         files=[Path(night) for night in wanted],
                         probe=lambda: store_probe(engine), state=state or WorkerState("alerts"),
                         metrics=LoopMetrics("alerts"), progress=progress, stop=stop,
                         on_batch=_totals_collector(totals, on_batch))
        totals.take(loop)
        handler.tick(force=True)
    finally:
        handler.close()
    return totals


# ------------------------------------------------------------------------------------- Kafka
def ingest_kafka(settings: Settings, topics: Sequence[str], *, group_id: str | None = None,
                 stop: StopFlag | Callable[[], bool] | None = None,
                 idle_exit_s: float | None = None, max_alerts: int | None = None,
                 engine: sa.Engine | None = None, state: WorkerState | None = None,
                 on_batch: Callable[[Any, IngestTotals], None] | None = None) -> IngestTotals:
    """Consume alerts from Kafka until stopped (or idle for ``idle_exit_s``, or ``max_alerts``
    messages), under the batch loop's failure policy (:mod:`skysift.worker`)."""
    watch = BrokerWatch()
    engine, producer, pipeline = open_pipeline(settings, engine, watch)
    handler = AlertHandler(settings, engine, producer, pipeline)
    try:
        pipeline.prepare()
    except Exception as exc:  # the loop waits for the store if it is away
        log.warning("could not prepare the filters before the first batch: %s", exc)
    consumer = make_consumer(settings, group_id or settings.ingest_group_id, watch=watch)
    admin = make_admin(settings)
    totals = IngestTotals(dead_letter=", ".join(f"{t}.dlq" for t in topics))
    loop = KafkaLoop(
        settings, handler, consumer=consumer, producer=producer, watch=watch, topics=topics,
        probe=lambda: store_probe(engine) or broker_probe(admin),
        ensure_topics=lambda wanted: ensure_topics(admin, settings, wanted),
        state=state or WorkerState("alerts"), metrics=LoopMetrics("alerts"))
    try:
        result = loop.run(stop=stop if stop is not None else (lambda: False),
                          idle_exit_s=idle_exit_s, max_messages=max_alerts,
                          on_batch=_totals_collector(totals, on_batch))
        totals.take(result)
    finally:
        consumer.close()
        handler.close()
    return totals
