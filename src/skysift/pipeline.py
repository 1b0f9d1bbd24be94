"""The batch pipeline: store the alerts, recompute features, run every active filter, produce.

One call of :meth:`Pipeline.process` handles one batch of decoded alerts:

1. ``store``: sources and forced sources inserted (de-duplicated), features of every touched
   object recomputed from its stored light curve, objects rows upserted; one transaction.
   ``context``: the batch's objects matched against every active watchlist and watchmap and
   every gravitational-wave event live for them; their hits replaced (skysift.context.stage).
2. ``filters``: the batch's objects rows are loaded into a small in-memory SQLite database
   (Lasair's proven design), holding only the columns the active filters read, and every active
   filter runs against it with a deadline and a row cap.
   A filter that fails is recorded on the filter (``last_error``) and the others go on.
3. ``records``: each match becomes a plain, lite or full record, produced to the filter's topic
   under its daily byte quota, then the producer is flushed (``flush``).
   Email filters produce nothing to Kafka: their matches (selected columns and UTC) are kept in
   ``email_pending`` for the next daily digest (:mod:`skysift.notify`).

4. ``archive``: when everything else is done, the stored alerts are appended to the alert
   archive as received (:mod:`skysift.archive`), so a failed attempt is never archived.

The caller commits its input offsets only after :meth:`process` returns (at-least-once).
Database errors leave as :class:`~skysift.errors.StoreError` (``StoreUnavailable`` when the
database could not be reached), delivery errors as :class:`~skysift.errors.DeliveryError`; the
batch loop's policy (:mod:`skysift.worker.policy`) decides what then. Nothing one filter does
(an error of any kind while it is compiled or run) leaves the filter stage: it is recorded on
that filter and the others run. That includes a filter that does not match the batch database
(:class:`~skysift.errors.BatchSchemaError`: a column or table it cannot hold): the filters that
read it fail, not the batch, so no alert is dead-lettered and the store is not blamed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from skysift.alerts.decode import decode_full
from skysift.archive import AlertArchive
from skysift.alerts.model import Alert
from skysift.config import Settings
from skysift.errors import BatchSchemaError, FilterError
from skysift.filters.active import CompiledFilters, filter_failure
from skysift.streams.deliver import LightCurve, deliver_rows
from skysift.filters.repository import Filter, active_filters, record_error
from skysift.store.translate import db_errors
from skysift.streams.output import RecordSink, load_today_bytes, save_counts
from skysift.streams.records import utc_now_text
from skysift.filters.catalogue import catalogue
from skysift.filters.batch import BatchEngine
from skysift.filters.catalogue import BATCH_ANNOTATIONS_COLUMNS
from skysift.context.stage import ContextStage
from skysift.features.dust import open_dust_map
from skysift.features.update import store_alerts
from skysift.store.cutouts import cutout_store, save_cutouts
from skysift.annotations.store import load_for_batch
from skysift.context.tables import CONTEXT_TABLES
from skysift.notify.digest import queue_matches

__all__ = ["BatchReport", "Pipeline"]

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What one batch did."""

    alerts: int = 0
    objects: int = 0
    records_produced: int = 0
    records_rejected: int = 0
    filters_run: int = 0
    filter_errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    per_topic: dict[str, int] = field(default_factory=dict)
    email_matches: int = 0  # matches of email filters kept for their next digest
    refused: list[tuple[Alert, str]] = field(default_factory=list)  # not stored, and why
    warnings: list[str] = field(default_factory=list)  # values stored as NULL
    context_hits: dict[str, int] = field(default_factory=dict)  # hits found, per table


def _latest_alert_per_object(alerts: Sequence[Alert]) -> dict[int, Alert]:
    """For each object, the alert of its newest detection (ties broken by diaSourceId)."""
    best: dict[int, Alert] = {}
    for a in alerts:
        if a.diaObjectId is None:
            continue
        cur = best.get(a.diaObjectId)
        key = (a.diaSource.get("midpointMjdTai") or 0.0, a.diaSourceId)
        if cur is None or key > (cur.diaSource.get("midpointMjdTai") or 0.0, cur.diaSourceId):
            best[a.diaObjectId] = a
    return best


class Pipeline:
    """Stores batches of alerts and runs the active filters over them.

    Parameters
    ----------
    settings
        The settings (deadlines, row caps, quotas).
    engine
        The store (SQLAlchemy engine from :func:`skysift.store.database.open_store`).
    producer
        A confluent_kafka.Producer for the output topics.
    """

    def __init__(self, settings: Settings, engine: sa.Engine, producer: Any) -> None:
        self.settings = settings
        self.engine = engine
        self.sink = RecordSink(producer, max_message_bytes=settings.topic_max_message_bytes)
        self.batch_engine = BatchEngine(catalogue())

        self.batch_engine.add_table("annotations", BATCH_ANNOTATIONS_COLUMNS)

        self.dust = open_dust_map(settings.sfd_dust_map)  # ConfigError: a wrong path stops here
        self.context = ContextStage(max_contour=settings.gw_max_contour,
                                    active_days=settings.gw_active_days,
                                    tns_radius_arcsec=settings.tns_radius_arcsec)
        self._compiled = CompiledFilters()
        self._today: Any = None
        self._cutout_store: Any = None  # made at the first batch that keeps cutouts
        #: every stored alert as received, by night (None when ``archive_nights`` is 0)
        self.archive = AlertArchive(settings) if settings.archive_nights > 0 else None
        #: the ``reason`` header of the records (``replay`` when a replay drives the pipeline)
        self.reason = "alert"
        #: False: store (and archive) only; no filter runs, no record (a store rebuilt from the
        #: archive)
        self.run_filters = True
        #: True when the engine was opened for this pipeline: close() disposes it
        self.owns_engine = False

    def prepare(self) -> int:
        """Validate and compile every active filter now (not in the first batch's time).

        A filter that cannot be compiled, whatever the error, is logged and recorded on the
        filter; it never stops the worker."""
        with db_errors("read the active filters"), self.engine.connect() as conn:
            filters = active_filters(conn)
            self._compiled.refresh(conn)
        for flt in filters:
            try:
                self.batch_engine.prepare(self._compiled.get(flt))
            except Exception as exc:  # one filter never stops the worker
                log.warning("filter %s cannot be prepared: %s", flt.name,
                            filter_failure(exc, flt.name))
        return len(filters)

    # ------------------------------------------------------------------ stages
    def _store(self, alerts: Sequence[Alert]) -> Any:
        with db_errors("store the batch", alerts=len(alerts)), self.engine.begin() as conn:
            return store_alerts(conn, alerts, bbb=self.settings.bbb_fit,
                                bbb_budget_s=self.settings.bbb_fit_budget_s,
                                bbb_warm=self.settings.bbb_warm_start, dust=self.dust)

    def _keep_cutouts(self, alerts: Sequence[Alert], report: BatchReport) -> None:
        """Write the batch's cutouts (keep_cutouts): a disk that refuses is logged, and ingest
        goes on (the cutouts are for looking at, the photometry is stored)."""

        started = time.perf_counter()
        try:
            if self._cutout_store is None:
                self._cutout_store = cutout_store(self.settings)
            save_cutouts(self._cutout_store, list(alerts))
        except Exception as exc:  # cutouts never stop ingest
            where = self.settings.cutouts_url or self.settings.data_dir / "cutouts"
            log.error("cannot keep this batch's cutouts in %s: %s", where, exc)
            report.warnings.append(f"cutouts not kept: {exc}")
        report.seconds["cutouts"] = time.perf_counter() - started

    def _archive(self, alerts: Sequence[Alert], report: BatchReport) -> None:
        """Append the stored alerts to the archive: a disk or bucket that refuses is logged and
        ingest goes on (the store has the photometry; the archive is for backtests)."""
        started = time.perf_counter()
        try:
            assert self.archive is not None
            self.archive.write(alerts)
        except Exception as exc:  # the archive never stops ingest
            log.error("cannot archive this batch in %s: %s", self.archive, exc)
            report.warnings.append(f"alerts not archived: {exc}")
        report.seconds["archive"] = time.perf_counter() - started

    def close(self) -> None:
        """Close the archive's open files (they get their summaries; S3: uploaded), and the
        engine when the pipeline opened it (:attr:`owns_engine`)."""
        if self.archive is not None:
            self.archive.close()
        if self.owns_engine:
            self.engine.dispose()

    def _refresh_quota_state(self, conn: sa.Connection) -> None:
        today = datetime.now(UTC).date()
        if self._today != today:  # a new UTC day: quotas start again
            self.sink.today_bytes = load_today_bytes(conn, today)
            self._today = today

    def _load_table(self, table: str, rows: list[dict[str, Any]], filters: Sequence[Filter],
                    compiled: dict[int, Any]) -> None:
        """Load ``rows`` into the batch table ``table``. When they do not fit it
        (:class:`BatchSchemaError`), the table is left empty and the filters that read it fail
        with that error (recorded on them); the batch goes on."""
        try:
            self.batch_engine.load(table, rows)
        except BatchSchemaError as exc:
            log.error("the batch table %s cannot be loaded (%s): the filters reading it fail",
                      table, exc)
            with contextlib.suppress(BatchSchemaError):  # no such table: nothing to empty
                self.batch_engine.load(table, [])
            for flt in filters:
                vf = compiled[flt.id]
                if isinstance(vf, FilterError):
                    continue
                if table in vf.tables or (table == "annotations" and vf.annotators):
                    compiled[flt.id] = BatchSchemaError(f"the filter failed: {exc.message}",
                                                        table=table, filter=flt.name)

    def _load_annotations(self, valid: Sequence[Any], object_ids: Any,
                          filters: Sequence[Filter], compiled: dict[int, Any]) -> None:
        """The batch's objects' annotations, for the annotators the active filters read (the
        values current now: a ``both`` filter sees the annotation as it is when the alert
        arrives, including one made before the object was first seen). ``valid``: the active
        filters' ValidatedFilters."""

        topics = {t for vf in valid for t in vf.annotators}
        rows: list[dict[str, Any]] = []
        if topics:
            with db_errors("read the batch's annotations"), self.engine.connect() as conn:
                rows = load_for_batch(conn, list(object_ids), sorted(topics))
        self._load_table("annotations", rows, filters, compiled)

    # complexity accepted (C901): one batch through every stage in order; each stage
    # guards its own failures
    def process(self, alerts: Sequence[Alert]) -> BatchReport:  # noqa: C901
        """Store, filter and produce one batch. Raises on store or delivery failure."""
        report = BatchReport(alerts=len(alerts))
        t0 = time.perf_counter()
        stored = self._store(alerts)
        if stored.refused:
            refused = {id(a) for a, _ in stored.refused}
            alerts = [a for a in alerts if id(a) not in refused]
            report.refused = stored.refused
            report.alerts = len(alerts)
        report.warnings = stored.warnings
        if self.settings.keep_cutouts and alerts:
            self._keep_cutouts(alerts, report)
        t1 = time.perf_counter()
        records_s = 0.0  # of the filters stage: building and producing records
        report.objects = len(stored.object_ids)
        with db_errors("read the active filters"), self.engine.connect() as conn:
            filters = active_filters(conn)
            self._refresh_quota_state(conn)
            self._compiled.refresh(conn)
        errors: dict[int, str] = {}
        email: list[tuple[Filter, Any, str, dict[int, int]]] = []  # kept for the digests
        compiled: dict[int, Any] = {}
        for flt in filters:
            try:
                compiled[flt.id] = self._compiled.get(flt)
            except Exception as exc:  # reported when the filter runs
                compiled[flt.id] = filter_failure(exc, flt.name)
                continue
            try:  # a filter reading a column the batch cannot hold fails alone
                self.batch_engine.check_columns("objects", compiled[flt.id].objects_columns,
                                                filter_name=flt.name)
            except BatchSchemaError as exc:
                compiled[flt.id] = exc
        valid = [vf for vf in compiled.values() if not isinstance(vf, FilterError)]
        context = None
        if stored.object_ids:
            read_back = {t for vf in valid for t in vf.tables if t in CONTEXT_TABLES}
            t_context = time.perf_counter()
            with db_errors("match the batch against the context"), self.engine.begin() as conn:
                self.context.refresh(conn)
                context = self.context.apply(conn, stored.rows.values(), read_back=read_back)
            report.context_hits = context.hits
            report.seconds["context"] = time.perf_counter() - t_context
        if not self.run_filters:
            filters = []
        if filters and stored.object_ids:
            # the batch table holds only the columns the active filters read (narrow rows are
            # several times faster to filter)
            self.batch_engine.keep_columns("objects",
                                           frozenset().union(*(vf.objects_columns for vf in valid)))
            cols = self.batch_engine.held_columns("objects")
            rows = [{k: r.get(k) for k in cols} for r in stored.rows.values()]
            self.batch_engine.load("objects", rows)
            self._load_annotations(valid, stored.object_ids, filters, compiled)

            for table in CONTEXT_TABLES:
                self._load_table(table, context.rows.get(table, []) if context else [], filters,
                                 compiled)
            latest = _latest_alert_per_object(alerts)
            utc = utc_now_text()

            full_cache: dict[int, LightCurve] = {}

            def lightcurve_for(oid: int) -> LightCurve | None:
                a = latest.get(oid)
                if a is None:
                    return None
                return LightCurve(a.diaObject, a.all_sources, a.prvDiaForcedSources, a.diaSourceId)

            def ids_for(oid: int) -> LightCurve | None:
                """A plain record's header needs only the triggering diaSourceId."""
                a = latest.get(oid)
                return None if a is None else LightCurve(None, (), (), a.diaSourceId)

            def full_lightcurve_for(oid: int) -> LightCurve | None:
                """Every field of the history: decode the alert again, completely (only for
                the objects a full-output filter matched)."""
                if oid not in full_cache:
                    a = latest.get(oid)
                    if a is None:
                        return None
                    a = decode_full(a)
                    full_cache[oid] = LightCurve(a.diaObject, a.all_sources,
                                                 a.prvDiaForcedSources, a.diaSourceId)
                return full_cache[oid]

            records_from = {"full": full_lightcurve_for, "lite": lightcurve_for}  # else ids_for
            for flt in filters:
                report.filters_run += 1
                try:
                    vf = compiled[flt.id]
                    if isinstance(vf, FilterError):
                        raise vf
                    result = self.batch_engine.run(
                        vf, timeout_s=self.settings.filter_timeout_s,
                        row_cap=self.settings.filter_row_cap, filter_name=flt.name)
                except Exception as exc:  # any error stays with its filter
                    exc = filter_failure(exc, flt.name)
                    errors[flt.id] = str(exc)
                    report.filter_errors[flt.name] = str(exc)
                    log.warning("filter %s (topic %s) failed: %s", flt.name, flt.topic, exc)
                    continue
                if flt.output == "email":
                    if result.rows:
                        email.append((flt, result.rows, utc,
                                      {o: a.diaSourceId for o, a in latest.items()}))
                    continue
                if not result.rows or not flt.topic or flt.output not in ("plain", "lite", "full"):
                    continue
                t_records = time.perf_counter()
                produced, rejected = deliver_rows(
                    self.sink, topic=flt.topic, filter_name=flt.name, output=flt.output,
                    quota=flt.byte_quota, rows=result.rows, utc=utc, reason=self.reason,
                    lightcurve_for=records_from.get(flt.output, ids_for))
                report.records_produced += produced
                report.records_rejected += rejected
                records_s += time.perf_counter() - t_records
                if produced:
                    report.per_topic[flt.topic] = report.per_topic.get(flt.topic, 0) + produced
        t2 = time.perf_counter()
        self.sink.flush()
        t3 = time.perf_counter()
        counts = self.sink.take_counts()
        with db_errors("record the batch's counts"), self.engine.begin() as conn:
            save_counts(conn, counts)
            for fid, err in errors.items():
                record_error(conn, fid, err)
            if email:
                now = datetime.now(UTC)
                for flt, rows, when, source_ids in email:
                    queued, rejected = queue_matches(conn, self.settings, flt, rows, when,
                                                     source_ids.get, now)
                    report.email_matches += queued
                    report.records_rejected += rejected
        t4 = time.perf_counter()
        # last, when nothing of the batch can fail any more: an attempt that failed (and is
        # tried again by the batch loop) is never archived
        if self.archive is not None and alerts:
            self._archive(alerts, report)
        context_s = report.seconds.get("context", 0.0)
        cutouts_s = report.seconds.get("cutouts", 0.0)
        archive_s = report.seconds.get("archive", 0.0)
        report.seconds = {"store": t1 - t0 - cutouts_s, "cutouts": cutouts_s,
                          "archive": archive_s, "context": context_s,
                          "filters": t2 - t1 - records_s - context_s, "records": records_s,
                          "flush": t3 - t2, "bookkeeping": t4 - t3}
        return report

