"""Backtest and replay: one filter over archived nights, as the live pipeline would have run it.

:func:`run_archive` reads the nights from the alert archive (:mod:`skysift.archive`) in the
order they were stored, rebuilds the live batches, and runs them through the same
:class:`~skysift.pipeline.Pipeline` (store, features, context, the batch engine, records) over a
*scratch store*: a private SQLite file in a temporary folder that starts empty and holds only
this filter (as its owner saved it, or as edited and not saved), its owner, and the context it
reads (the annotations, watchlists, watchmaps and GW events of the live store, as they are now).
So each object's features are those it had at each alert's time, computed from the alert's own
history and the earlier archived alerts, never from later ones; the live store is only read.

- **backtest** (:func:`backtest`): the records are built and counted, not sent. The report
  gives, per night, the alerts seen, records, bytes, the filter stage's time per batch
  (p50/p99) and the first matching objects.
- **replay** (:func:`replay`): the records are produced to the filter's topic (or another),
  in time order, with header ``reason=replay``, under the filter's daily byte quota shared
  with the live records of today (and counted in the live store's ``topic_stats``).

A record or file of the archive that cannot be read is reported (night, file, record) and the
run goes on.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from skysift.alerts.model import Alert
from skysift.archive import (
    ArchivedAlert,
    archive_store,
    decode_archived,
    iter_night,
    nights_to_run,
)
from skysift.config import Settings, replace
from skysift.errors import ArchiveError, FilterError
from skysift.filters.active import CompiledFilters
from skysift.filters.repository import Filter
from skysift.pipeline import BatchReport, Pipeline
from skysift.store import schema as t
from skysift.store.database import open_store
from skysift.store.translate import db_errors
from skysift.streams.output import TopicCounts, save_counts

__all__ = [
    "BacktestReport",
    "NightResult",
    "backtest",
    "check_replay_topic",
    "compile_for_owner",
    "flood_warning",
    "replay",
    "run_archive",
]

log = logging.getLogger(__name__)

#: Matching objects listed per night in a report.
FIRST_MATCHES = 5


@dataclass
class NightResult:
    """What a filter did (or would have done) over one archived night."""

    night: str
    alerts: int = 0  # archived alerts read (after duplicates were dropped)
    archived: int = 0  # alerts the archive holds for the night (a run may stop before)
    records: int = 0  # records produced (replay) or that would have been (backtest)
    bytes: int = 0
    rejected: int = 0  # records over the quota (replay) or too large for the topic
    batches: int = 0
    filter_s: list[float] = field(default_factory=list)  # the filter stage, per batch
    first: list[int] = field(default_factory=list)  # the first matching diaObjectIds
    duplicates: int = 0  # alerts archived twice (a batch Kafka delivered again)
    problems: list[str] = field(default_factory=list)  # archived alerts that could not be read

    @property
    def match_fraction(self) -> float:
        return self.records / self.alerts if self.alerts else 0.0

    def seconds_quantile(self, q: float) -> float:
        """The ``q`` quantile of the filter's time per batch (0 with no batch)."""
        if not self.filter_s:
            return 0.0
        if len(self.filter_s) == 1:
            return self.filter_s[0]
        return statistics.quantiles(self.filter_s, n=100, method="inclusive")[
            min(98, max(0, round(q * 100) - 1))]

    def as_dict(self) -> dict[str, Any]:
        return {"night": self.night, "alerts": self.alerts, "archived": self.archived,
                "records": self.records,
                "bytes": self.bytes, "rejected": self.rejected, "batches": self.batches,
                "filter_s_p50": round(self.seconds_quantile(0.5), 6),
                "filter_s_p99": round(self.seconds_quantile(0.99), 6),
                "match_fraction": round(self.match_fraction, 6), "first": self.first,
                "duplicates": self.duplicates, "problems": self.problems}


@dataclass
class BacktestReport:
    """A backtest's or replay's totals and nights."""

    filter_name: str
    sql: str
    mode: str  # "backtest" or "replay"
    topic: str | None
    nights: list[NightResult] = field(default_factory=list)
    seconds: float = 0.0
    filter_error: str | None = None  # the filter failed (the first error it met)

    @property
    def alerts(self) -> int:
        return sum(n.alerts for n in self.nights)

    @property
    def records(self) -> int:
        return sum(n.records for n in self.nights)

    @property
    def bytes(self) -> int:
        return sum(n.bytes for n in self.nights)

    @property
    def problems(self) -> list[str]:
        return [p for n in self.nights for p in n.problems]

    def as_dict(self) -> dict[str, Any]:
        every = [s for n in self.nights for s in n.filter_s]
        whole = NightResult("all", filter_s=every)
        return {"filter": self.filter_name, "sql": self.sql, "mode": self.mode,
                "topic": self.topic, "alerts": self.alerts, "records": self.records,
                "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "alerts_per_s": round(self.alerts / self.seconds, 1) if self.seconds else None,
                "filter_s_p50": round(whole.seconds_quantile(0.5), 6),
                "filter_s_p99": round(whole.seconds_quantile(0.99), 6),
                "filter_error": self.filter_error,
                "nights": [n.as_dict() for n in self.nights]}


class _Tap:
    """The producer of a run: notes each record's key and size, and passes it on to a real
    producer (replay) or to nothing (backtest: measured and dropped). It has the part of
    confluent-kafka's Producer that :class:`~skysift.streams.output.RecordSink` uses."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.keys: list[bytes | None] = []
        self.bytes = 0
        self._mark = 0

    def mark(self) -> None:
        """A batch begins: a purge forgets what was produced after this."""
        self.keys.clear()
        self._mark = self.bytes

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                headers: Any = None, on_delivery: Callable[..., Any] | None = None) -> None:
        if self.inner is not None:
            self.inner.produce(topic, value=value, key=key, headers=headers,
                               on_delivery=on_delivery)
        self.keys.append(key)
        self.bytes += len(value or b"")

    def poll(self, timeout: float = 0.0) -> int:
        return int(self.inner.poll(timeout)) if self.inner is not None else 0

    def flush(self, timeout: float = 0.0) -> int:
        return int(self.inner.flush(timeout)) if self.inner is not None else 0

    def purge(self, in_queue: bool = True, in_flight: bool = True) -> None:
        if self.inner is not None:
            self.inner.purge(in_queue=in_queue, in_flight=in_flight)
        self.keys.clear()
        self.bytes = self._mark


# ------------------------------------------------------------------------ the scratch store
def _copy(src: sa.Connection, dst: sa.Connection, table: sa.Table,
          where: Any = None, change: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
          ) -> int:
    q = sa.select(table)
    if where is not None:
        q = q.where(where)
    n = 0
    chunk: list[dict[str, Any]] = []
    for row in src.execute(q).mappings():
        chunk.append(change(dict(row)) if change else dict(row))
        if len(chunk) >= 5000:
            dst.execute(table.insert(), chunk)
            n += len(chunk)
            chunk = []
    if chunk:
        dst.execute(table.insert(), chunk)
        n += len(chunk)
    return n


def _scratch_user(row: dict[str, Any]) -> dict[str, Any]:
    """A user as the scratch store needs one: no credentials, no address."""
    return {**row, "token_hash": f"scratch-{row['id']}", "token_prefix": "", "email": None,
            "password_hash": None}


def _fill_scratch(live: sa.Connection, scratch: sa.Connection, flt: Filter, vf: Any,
                  topic: str, output: str, quota: int) -> None:
    """The filter, the users and the context it reads, copied from the live store."""
    _copy(live, scratch, t.users, change=_scratch_user)
    scratch.execute(t.filters.insert().values(
        id=flt.id, user_id=flt.user_id, name=flt.name, description="", sql=flt.sql,
        trigger="alert", output=output, public=flt.public, topic=topic, byte_quota=quota))
    if vf.annotators:
        topics = list(vf.annotators)
        _copy(live, scratch, t.annotators, t.annotators.c.topic.in_(topics))
        _copy(live, scratch, t.annotations_table, t.annotations_table.c.topic.in_(topics))

    def owner_or_public(table: sa.Table) -> Any:
        return sa.or_(table.c.public, table.c.user_id == flt.user_id)

    tables = set(vf.tables)
    if "watchlist_hits" in tables:
        _copy(live, scratch, t.watchlists, owner_or_public(t.watchlists))
        ids = [r[0] for r in scratch.execute(sa.select(t.watchlists.c.id))]
        _copy(live, scratch, t.watchlist_cones, t.watchlist_cones.c.wl_id.in_(ids))
    if "area_hits" in tables:
        _copy(live, scratch, t.watchmaps, owner_or_public(t.watchmaps))
    if tables & {"gw_hits", "gw_events"}:
        _copy(live, scratch, t.gw_events)
        _copy(live, scratch, t.gw_maps)
    if "tns_name" in vf.objects_columns:
        _copy(live, scratch, t.crossmatch_tns)


# ------------------------------------------------------------------------------ the run
def _batches(items: Iterable[ArchivedAlert | ArchiveError], night: NightResult,
             seen: set[int], registry_url: str | None) -> Iterator[list[Alert]]:
    """The live batches of one night's records (consecutive records of one batch key: the
    batches as the live workers cut them, whatever this process's ``batch_size``), decoded;
    what cannot be read goes to ``night.problems``."""
    batch: list[Alert] = []
    key: str | None = None
    for item in items:
        if isinstance(item, ArchiveError):
            night.problems.append(str(item))
            log.error("%s", item)
            continue
        if batch and item.batch != key:
            yield batch
            batch = []
        key = item.batch
        try:
            alert = decode_archived(item, registry_url=registry_url)
        except ArchiveError as exc:
            night.problems.append(str(exc))
            log.error("%s", exc)
            continue
        if alert.diaSourceId in seen:
            night.duplicates += 1
            continue
        seen.add(alert.diaSourceId)
        night.alerts += 1
        batch.append(alert)
    if batch:
        yield batch


def _process(pipeline: Pipeline, batch: list[Alert], night: NightResult) -> BatchReport | None:
    """One batch through the pipeline. A batch that fails is run again alert by alert, and
    each alert that fails alone is reported (night, alert, why) and left out, as the live
    loop's failure policy would have dead-lettered it; None when nothing of it ran."""
    try:
        return pipeline.process(batch)
    except Exception as exc:  # find the alerts that fail alone
        first_error = exc
    pipeline.sink.discard()
    merged: BatchReport | None = None
    for alert in batch:
        try:
            one = pipeline.process([alert])
        except Exception as exc:  # this alert fails alone: reported, the run goes on
            pipeline.sink.discard()
            problem = (f"alert {alert.diaSourceId} ({alert.origin.describe()}) fails the "
                       f"pipeline: {type(exc).__name__}: {exc} (night={night.night})")
            night.problems.append(problem)
            log.error("%s", problem)
            continue
        if merged is None:
            merged = one
            continue
        merged.records_produced += one.records_produced
        merged.records_rejected += one.records_rejected
        merged.filter_errors.update(one.filter_errors)
        for k, v in one.seconds.items():
            merged.seconds[k] = merged.seconds.get(k, 0.0) + v
        for t_, n in one.per_topic.items():
            merged.per_topic[t_] = merged.per_topic.get(t_, 0) + n
    if merged is None:
        log.error("a batch of %d alerts failed, and each alert alone: %s", len(batch),
                  first_error)
    return merged


def compile_for_owner(engine: sa.Engine, flt: Filter) -> Any:
    """``flt`` validated and compiled for its owner as the live pipeline would now (the
    annotators, watchlists and watchmaps the owner may read).

    Raises
    ------
    FilterError
        The SQL is not valid for its owner now (says why).
    """
    compiled = CompiledFilters()
    with db_errors("read the filter's context"), engine.connect() as live:
        compiled.refresh(live)
        return compiled.get(flt)


def run_archive(settings: Settings, engine: sa.Engine, flt: Filter, *,
                nights: Sequence[str] | None = None, last: int | None = None,
                producer: Any = None, topic: str | None = None,
                progress: Callable[[str, int, int], None] | None = None,
                on_batch: Callable[[NightResult], None] | None = None,
                max_alerts: int | None = None) -> BacktestReport:
    """Run ``flt`` over archived nights through the pipeline on a scratch store.

    Parameters
    ----------
    settings, engine
        The live settings and store (read only, except ``topic_stats`` after a replay).
    flt
        The filter; its ``sql``, ``output`` and ``byte_quota`` as they should be tried (an
        edited, unsaved filter is a :class:`Filter` with the new values).
    nights, last
        The nights to run (``YYYY-MM-DD``; those the archive does not hold are skipped), or
        the newest ``last`` nights, or (neither) every archived night.
    producer
        None: a backtest (records counted, not sent). A confluent-kafka Producer: a replay
        into ``topic`` (default the filter's), ``reason=replay``, under its byte quota.
    progress
        Called with (night, alerts read so far in the night, alerts in the night).
    on_batch
        Called after each batch with the night's :class:`NightResult` so far (alerts read,
        records produced...), in the thread of the run (the web's replay jobs).
    max_alerts
        Stop after this many alerts (the check made when a filter is saved active).

    Raises
    ------
    ArchiveError
        The archive holds none of the nights.
    FilterError
        The filter's SQL is not valid for its owner now.
    """
    started = time.perf_counter()
    replaying = producer is not None
    out_topic = topic or flt.topic or f"backtest_{flt.id}"
    output = "plain" if flt.output == "email" else flt.output
    report = BacktestReport(flt.name, flt.sql, "replay" if replaying else "backtest",
                            out_topic if replaying else flt.topic)
    sizes = nights_to_run(settings, nights, last)
    vf = compile_for_owner(engine, flt)
    folder = Path(tempfile.mkdtemp(prefix="skysift-backtest-"))
    scratch: sa.Engine | None = None
    charged = flt.topic or out_topic  # the topic whose daily counts hold the filter's quota
    today = datetime.now(UTC).date()
    try:
        scratch = open_store(f"sqlite:///{folder / 'scratch.db'}")
        with engine.connect() as live, scratch.begin() as conn:
            # a backtest counts every record the filter would make: the quota is judged after
            _fill_scratch(live, conn, flt, vf, out_topic, output,
                          flt.byte_quota if replaying else -1)
            if replaying:  # the quota is the filter's: shared with what its topic produced
                # today (live, or replays into any topic), whichever topic this replay fills
                row = live.execute(sa.select(t.topic_stats).where(
                    t.topic_stats.c.topic == charged, t.topic_stats.c.day == today)).first()
                if row is not None:
                    conn.execute(t.topic_stats.insert().values(
                        {**row._mapping, "topic": out_topic}))
        scratch_settings = replace(settings, archive_nights=0, keep_cutouts=False,
                                   data_dir=folder)
        tap = _Tap(producer)
        pipeline = Pipeline(scratch_settings, scratch, tap)
        pipeline.reason = "replay" if replaying else "alert"
        store = archive_store(settings)
        seen: set[int] = set()
        total = 0
        for name in sizes:
            night = NightResult(name, archived=sizes[name])
            report.nights.append(night)
            for batch in _batches(iter_night(store, name), night, seen,
                                  settings.schema_registry):
                tap.mark()
                before = tap.bytes
                result = _process(pipeline, batch, night)
                if result is None:  # every alert of it failed: reported; the run goes on
                    if on_batch is not None:
                        on_batch(night)
                    continue
                night.batches += 1
                night.filter_s.append(result.seconds.get("filters", 0.0))
                night.records += result.per_topic.get(out_topic, 0)
                night.bytes += tap.bytes - before
                night.rejected += result.records_rejected
                for err in result.filter_errors.values():
                    report.filter_error = report.filter_error or err
                for key in tap.keys:
                    if len(night.first) < FIRST_MATCHES and key is not None \
                            and int(key) not in night.first:
                        night.first.append(int(key))
                total += len(batch)
                if progress is not None:
                    progress(name, night.alerts, sizes[name])
                if on_batch is not None:
                    on_batch(night)
                if max_alerts is not None and total >= max_alerts:
                    break
            if max_alerts is not None and total >= max_alerts:
                break
    finally:
        if replaying:  # what reached the topic counts, even when the replay stopped part way
            _count_in_live(engine, charged, today, report)
        if scratch is not None:
            scratch.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _count_in_live(engine: sa.Engine, topic: str, today: Any, report: BacktestReport) -> None:
    """Add what the replay produced to the live ``topic_stats`` of today (its quota's day)."""
    delta = TopicCounts(records_produced=report.records, bytes_produced=report.bytes,
                        records_rejected=sum(n.rejected for n in report.nights),
                        last_record_at=datetime.now(UTC))
    if delta.records_produced or delta.records_rejected:
        with db_errors("count the replay's records"), engine.begin() as conn:
            save_counts(conn, {topic: delta}, today)


def backtest(settings: Settings, engine: sa.Engine, flt: Filter, **kwargs: Any) -> BacktestReport:
    """Run ``flt`` over archived nights and count what it would have produced (see
    :func:`run_archive`)."""
    return run_archive(settings, engine, flt, **kwargs)


def check_replay_topic(flt: Filter, topic: str | None) -> None:
    """FilterError when a replay of ``flt`` into ``topic`` (None: its own) has nowhere to go:
    an email filter has no topic of its own."""
    if flt.output == "email" and topic is None:
        raise FilterError("an email filter has no topic to replay into: name one (--topic)",
                          filter=flt.name)


def replay(settings: Settings, engine: sa.Engine, flt: Filter, producer: Any, *,
           topic: str | None = None, **kwargs: Any) -> BacktestReport:
    """Produce the records ``flt`` would have produced over archived nights into its topic
    (or ``topic``), ``reason=replay`` (see :func:`run_archive`)."""
    if producer is None:
        raise ValueError("a replay needs a producer")
    check_replay_topic(flt, topic)
    return run_archive(settings, engine, flt, producer=producer, topic=topic, **kwargs)


def flood_warning(settings: Settings, report: BacktestReport, quota: int) -> str | None:
    """Why a filter saved active would flood, from its backtest over the newest night (or None):
    more than ``max_match_fraction`` of a night's alerts matched, or more bytes than its daily
    ``quota`` (``-1``: none)."""
    for night in report.nights:
        reasons = []
        if night.alerts and night.match_fraction > settings.max_match_fraction:
            reasons.append(f"it matched {night.records} of {night.alerts} alerts "
                           f"({night.match_fraction:.1%}; the limit is "
                           f"{settings.max_match_fraction:.1%})")
        whole = night.bytes
        if night.alerts and night.archived > night.alerts:  # a sample: scaled to the night
            whole = round(night.bytes * night.archived / night.alerts)
        if quota >= 0 and whole > quota:
            measured = ("" if whole == night.bytes else
                        f" (scaled from {night.bytes:,} bytes over the first {night.alerts} of "
                        f"its {night.archived} alerts)")
            reasons.append(f"its records came to {whole:,} bytes{measured}, over its daily "
                           f"quota of {quota:,}")
        if reasons:
            return (f"over the archived night {night.night}, " + " and ".join(reasons)
                    + ": it may flood its topic")
    return None


def report_text(report: BacktestReport) -> str:
    """The report as the CLI prints it."""
    lines = [f"{report.mode} of filter {report.filter_name!r} over {len(report.nights)} "
             f"night(s): {report.alerts} alerts, {report.records} records, "
             f"{report.bytes:,} bytes in {report.seconds:.1f} s"
             + (f" ({report.alerts / report.seconds:.0f} alerts/s)" if report.seconds else "")]
    lines.append(f"{'night':<12} {'alerts':>8} {'records':>8} {'bytes':>11} {'match':>7} "
                 f"{'p50 ms':>8} {'p99 ms':>8}  first matches")
    for n in report.nights:
        lines.append(f"{n.night:<12} {n.alerts:>8} {n.records:>8} {n.bytes:>11,} "
                     f"{n.match_fraction:>7.2%} {n.seconds_quantile(0.5) * 1000:>8.1f} "
                     f"{n.seconds_quantile(0.99) * 1000:>8.1f}  "
                     + " ".join(str(o) for o in n.first))
    for p in report.problems:
        lines.append(f"problem: {p}")
    if report.filter_error:
        lines.append(f"the filter failed: {report.filter_error}")
    return "\n".join(lines)


def report_json(report: BacktestReport) -> str:
    return json.dumps(report.as_dict(), indent=2)


#: Alerts of the newest archived night a filter saved active is tried on (the flood check).
FLOOD_CHECK_ALERTS = 20_000


def flood_check(settings: Settings, engine: sa.Engine, flt: Filter) -> str | None:
    """The flood warning of a filter just saved active (trigger alert or both): its backtest
    over the newest archived night (at most :data:`FLOOD_CHECK_ALERTS` alerts); None when it
    would not flood, when it is not active, or when the archive holds no night yet."""
    if flt.trigger not in ("alert", "both"):
        return None
    try:
        report = backtest(settings, engine, flt, last=1, max_alerts=FLOOD_CHECK_ALERTS)
    except ArchiveError:
        return None
    return flood_warning(settings, report, flt.byte_quota)
