"""The one consume -> process -> produce -> commit loop, shared by alert and annotation ingest.

In the spirit of quix-streams' checkpoint, one batch goes through these steps, and the input
offsets are committed only when every step before has succeeded (at-least-once):

1. consume a batch: wait (at most ``batch_wait_s``) for one message, then take every message
   already received, up to ``batch_size``: a batch closes when the worker is free, not after a
   fixed wait, so at Rubin's rate each batch holds what arrived while the previous one was
   processed, and under a backlog batches are full;
2. decode each one; a message that is not an item becomes a dead letter;
3. process the items (store, filter, produce, flush) under the failure policy
   (:class:`~skysift.worker.policy.BatchRunner`): transient trouble is waited out, a batch that
   fails by its content is split until the item that fails alone is found and dead-lettered;
4. deliver the dead letters and wait for the broker to confirm each (else the folder);
5. count the batch in the store's statistics;
6. commit the offsets, checking the answer for every partition.

While a step waits to be tried again, the consumer's partitions are paused and the consumer is
polled, so it stays in its group; a rebalance that takes the batch's partitions away abandons the
batch (their new owner processes it). After any broker trouble the loop checks that the active
filters' topics exist (an embedded broker that restarts comes back empty) and says so once.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skysift.alerts.deadletter import DeadLetterFolder
from skysift.alerts.model import AlertOrigin
from skysift.config import Settings
from skysift.errors import AlertDecodeError, BrokerUnavailable
from skysift.worker.deadletters import DeadLetters
from skysift.worker.handler import Handler, Letter, Outcome
from skysift.worker.metrics import LoopMetrics
from skysift.worker.policy import (
    Abandoned,
    Backoff,
    BatchRunner,
    Incident,
    Stopped,
    classify,
    reason_of,
)
from skysift.worker.state import WorkerState

__all__ = ["KafkaLoop", "LoopTotals", "broker_probe", "subscription"]

log = logging.getLogger("skysift.worker")

#: Commit errors that mean the group moved on without this member: the batch is abandoned.
_REBALANCED = frozenset({"ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS",
                         "FENCED_INSTANCE_ID", "_ASSIGNMENT_LOST", "_STATE",
                         "UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_PARTITION", "_UNKNOWN_TOPIC"})


def subscription(topics: Sequence[str]) -> list[str]:
    """Topic names as given; a name with regex characters becomes a ``^`` pattern.

    >>> subscription(["lsst-alerts", "lsst-.*"])
    ['lsst-alerts', '^lsst-.*']
    """
    out = []
    for t in topics:
        if t.startswith("^") or not re.search(r"[*+?\[\]()|\\]", t):
            out.append(t)
        else:
            out.append("^" + t)
    return out


@dataclass
class LoopTotals:
    """Counts of a whole run of a loop."""

    messages: int = 0
    processed: int = 0
    rejected: int = 0
    batches: int = 0
    records_produced: int = 0
    records_rejected: int = 0
    nulled: int = 0
    abandoned: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)


class KafkaLoop:
    """Runs a :class:`~skysift.worker.handler.Handler` over Kafka topics in a consumer group.

    Parameters
    ----------
    settings
        ``batch_size``, ``batch_wait_s``, ``batch_max_attempts``, ``retry_backoff_max_s``...
    handler
        The work (alerts or annotations).
    consumer, producer
        Clients from :mod:`skysift.streams.kafka` (the producer is the handler's).
    watch
        The :class:`~skysift.streams.kafka.BrokerWatch` both clients report errors to.
    topics
        What to subscribe to.
    probe
        None when the store and the broker answer, else why not.
    ensure_topics
        Creates the given topics where missing; returns those it created.
    state, metrics
        Where the loop reports.
    """

    def __init__(self, settings: Settings, handler: Handler, *, consumer: Any, producer: Any,
                 watch: Any, topics: Sequence[str], probe: Callable[[], str | None],
                 ensure_topics: Callable[[set[str]], list[str]], state: WorkerState,
                 metrics: LoopMetrics) -> None:
        self.settings = settings
        self.handler = handler
        self.consumer = consumer
        self.producer = producer
        self.watch = watch
        self.topics = list(topics)
        self.probe = probe
        self.ensure_topics = ensure_topics
        self.state = state
        self.metrics = metrics
        self.stop: Callable[[], bool] = lambda: False
        self.incident = Incident(f"{handler.name} ingest", on_change=self._incident_changed)
        self.dead = DeadLetters(DeadLetterFolder(settings.dead_letter_dir), producer,
                                lambda t: self.ensure_topics({t}))
        self._revoked: set[tuple[str, int]] = set()
        self._assigned_once = False
        self._rewind: dict[tuple[str, int], int] = {}
        self._batch_partitions: set[tuple[str, int]] = set()
        self._trouble_seen = 0
        self.runner: BatchRunner[Any, Outcome] = BatchRunner(
            handler.process, discard=handler.discard, probe=probe,
            repair_topics=self._repair_topics, wait=self._wait, incident=self.incident,
            max_attempts=settings.batch_max_attempts,
            backoff_cap_s=settings.retry_backoff_max_s, describe=self._describe)

    # ------------------------------------------------------------------ reporting
    def _incident_changed(self, is_open: bool, text: str | None) -> None:
        self.state.incident_changed(is_open, text)
        self.metrics.retrying(is_open)
        if is_open and text:
            self.metrics.error(text, time.time())

    @staticmethod
    def _describe(item: Any) -> str:
        origin = getattr(item, "origin", None)
        return origin.describe() if origin is not None else repr(item)[:80]

    # ------------------------------------------------------------------ the group
    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        self._assigned_once = True
        for tp in partitions:
            self._revoked.discard((tp.topic, tp.partition))
        if partitions:
            self.state.joined()
        log.info("%s ingest: assigned %s", self.handler.name,
                 ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing")

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            self._revoked.add((tp.topic, tp.partition))

    def _wait(self, seconds: float) -> None:
        """Pause ``seconds`` while polling the consumer (its partitions paused), so it stays in
        its group. Messages that still arrive are fetched again later (seek back)."""
        from confluent_kafka import KafkaException, TopicPartition

        deadline = time.monotonic() + seconds
        try:
            assigned = self.consumer.assignment()
            if assigned:
                self.consumer.pause(assigned)
        except KafkaException:
            assigned = []
        try:
            while True:
                if self.stop():
                    raise Stopped()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for m in self.consumer.consume(num_messages=100, timeout=min(0.5, left)):
                    if m.error() is None:
                        tp = (m.topic(), m.partition())
                        self._rewind[tp] = min(self._rewind.get(tp, m.offset()), m.offset())
                if self._batch_partitions & self._revoked:
                    raise Abandoned()
        finally:
            try:
                now = self.consumer.assignment()
                if now:
                    self.consumer.resume(now)
                for (t, p), offset in self._rewind.items():
                    self.consumer.seek(TopicPartition(t, p, offset))
                self._rewind.clear()
            except KafkaException as exc:
                log.debug("resume after a wait: %s", exc)

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit, checking each partition; Abandoned when the group moved on."""
        from confluent_kafka import KafkaException, TopicPartition

        tps = [TopicPartition(t, p, o + 1) for (t, p), o in offsets.items()]
        try:
            answer = self.consumer.commit(offsets=tps, asynchronous=False)
        except KafkaException as exc:
            err = exc.args[0]
            if err.name() in _REBALANCED:
                raise Abandoned() from exc
            if err.name() == "_NO_OFFSET":
                return
            raise BrokerUnavailable(f"cannot commit offsets: {err.str()}") from exc
        bad = [tp for tp in answer or () if tp.error is not None]
        gone = [tp for tp in bad if tp.error.name() in _REBALANCED]
        if gone:
            log.warning("%s ingest: offsets of %s not committed (%s): their new owner "
                        "processes them again", self.handler.name,
                        ", ".join(f"{tp.topic}[{tp.partition}]" for tp in gone),
                        gone[0].error.str())
            self.state.error(f"commit refused: {gone[0].error.str()}")
        others = [tp for tp in bad if tp not in gone]
        if others:
            raise BrokerUnavailable(f"cannot commit offsets of {others[0].topic}"
                                    f"[{others[0].partition}]: {others[0].error.str()}")

    # ------------------------------------------------------------------ topics
    def _repair_topics(self, missing: frozenset[str]) -> None:
        wanted = set(missing) & (self.handler.active_topics()
                                 | {t + ".dlq" for t in self.topics})
        gone = set(missing) - wanted
        if gone:
            log.warning("records for topic(s) %s dropped: they belong to no active filter "
                        "any more", ", ".join(sorted(gone)))
        if wanted:
            self.ensure_topics(wanted)

    def _check_topics(self, force: bool = False) -> None:
        """After broker trouble (or at start), create the active filters' topics that the
        broker lost; said once."""
        if not force and self.watch.trouble == self._trouble_seen:
            return
        self._trouble_seen = self.watch.trouble
        self.dead.forget_topics()
        wanted = self.handler.active_topics()
        created = self.ensure_topics(wanted)
        if created and not force:
            log.error("the Kafka broker came back without %d of the active filters' topics "
                      "(an embedded broker that restarts loses every topic, record and "
                      "committed offset): created them again", len(created))
            self.state.error(f"the Kafka broker lost {len(created)} topics; created again")

    # ------------------------------------------------------------------ steps
    def _retry(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` until it works (dead letters, statistics, commit): no splitting here."""
        backoff = Backoff(cap=self.settings.retry_backoff_max_s)
        while True:
            try:
                result = fn()
            except (Stopped, Abandoned):
                raise
            except Exception as exc:  # any failure: wait and try again
                pause = backoff.next()
                self.incident.begin(f"cannot {what}: {reason_of(exc)}", pause)
                self._wait(pause)
                continue
            self.incident.end()
            return result

    def _decode(self, messages: list[Any], letters: list[Letter]) -> list[Any]:
        items = []
        for m in messages:
            ts_type, ts = m.timestamp()
            origin = AlertOrigin(topic=m.topic(), partition=m.partition(), offset=m.offset(),
                                 timestamp_ms=ts if ts_type else None)
            value = m.value() or b""
            backoff = Backoff(cap=self.settings.retry_backoff_max_s)
            while True:
                try:
                    items.append(self.handler.decode(value, origin))
                except AlertDecodeError as exc:
                    letters.append(Letter(value, origin, str(exc), "undecodable"))
                except Exception as exc:  # one message: dead letter, or wait
                    if classify(exc) == "transient":  # e.g. the schema registry is away
                        pause = backoff.next()
                        self.incident.begin(f"cannot decode {origin.describe()}: "
                                            f"{reason_of(exc)}", pause)
                        self._wait(pause)
                        continue
                    letters.append(Letter(value, origin, f"cannot decode: {reason_of(exc)}",
                                          "undecodable"))
                break
        return items

    def _lag(self, last: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        for (t, p), offset in last.items():
            try:
                _lo, hi = self.consumer.get_watermark_offsets(TopicPartition(t, p), cached=True)
            except KafkaException:
                continue
            if hi is not None and hi >= 0:
                self.metrics.lag(t, p, max(0, hi - offset - 1))

    # ------------------------------------------------------------------ the loop
    def run(self, *, stop: Callable[[], bool] | None = None, idle_exit_s: float | None = None,
            max_messages: int | None = None,
            on_batch: Callable[[Outcome, LoopTotals], None] | None = None) -> LoopTotals:
        """Consume until ``stop()``, or no message for ``idle_exit_s`` (counted from the first
        assignment, or from the start after a grace for the group join), or ``max_messages``."""
        self.stop = stop if stop is not None else (lambda: False)  # a StopFlag is falsy
        totals = LoopTotals()
        self.consumer.subscribe(subscription(self.topics), on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self.state.set_status("joining")
        started = last_message = time.monotonic()
        join_grace = max(30.0, 5 * self.settings.consumer_session_timeout_ms / 1000)
        self._retry("create the active filters' topics", lambda: self._check_topics(force=True))
        try:
            while not self.stop():
                self.handler.tick()
                t0 = time.perf_counter()
                msgs = self._take_batch()
                t_decode = time.perf_counter()
                real = []
                for m in msgs:
                    err = m.error()
                    if err is None:
                        real.append(m)
                    elif err.name() != "_PARTITION_EOF":
                        log.warning("%s ingest: Kafka: %s", self.handler.name, err.str())
                if not real:
                    now = time.monotonic()
                    if not self._assigned_once and now - started < join_grace:
                        last_message = now  # still joining the group: not idle yet
                    elif idle_exit_s is not None and now - last_message > idle_exit_s:
                        break
                    if self._assigned_once and not self.consumer.assignment():
                        self._check_topics()
                    continue
                last_message = time.monotonic()
                done = self._batch(real, t0, t_decode, totals, on_batch)
                del msgs, real
                if not done:
                    continue
                if max_messages is not None and totals.messages >= max_messages:
                    break
        except Stopped:
            log.info("%s ingest: stopped while a batch waited; it is done again on restart",
                     self.handler.name)
        finally:
            self.state.set_status("stopped")
        return totals

    def _take_batch(self) -> list[Any]:
        """The next batch: the first message (waiting at most ``batch_wait_s``), then every
        message the consumer holds already, up to ``batch_size`` (no further wait)."""
        msgs = self.consumer.consume(num_messages=1, timeout=self.settings.batch_wait_s)
        if msgs and self.settings.batch_size > 1:
            msgs.extend(self.consumer.consume(num_messages=self.settings.batch_size - 1,
                                              timeout=0))
        return msgs

    def _batch(self, real: list[Any], t0: float, t_decode: float, totals: LoopTotals,
               on_batch: Callable[[Outcome, LoopTotals], None] | None) -> bool:
        """One batch through every step; False when it was abandoned (a rebalance)."""
        first: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}
        arrivals = []
        for m in real:
            tp = (m.topic(), m.partition())
            first.setdefault(tp, m.offset())
            last[tp] = m.offset()
            ts_type, ts = m.timestamp()
            if ts_type:
                arrivals.append(ts / 1000.0)
        self._batch_partitions = set(first)
        letters: list[Letter] = []
        try:
            self._check_topics()
            items = self._decode(real, letters)
            decode_s = time.perf_counter() - t_decode
            run = self.runner.run(items)
            t_dead = time.perf_counter()
            outcomes = run.results
            for outcome in outcomes:
                for item, why in outcome.rejected:
                    letters.append(self.handler.item_letter(item, why, "refused"))
            for item, why in run.poison:
                letters.append(self.handler.item_letter(item, why, "poison"))
            n_letters = len(letters)
            counts: dict[str, int] = {}
            for letter in letters:
                counts[letter.outcome] = counts.get(letter.outcome, 0) + 1
                log.warning("%s ingest: dead-lettered %s: %s", self.handler.name,
                            letter.origin.describe(), letter.reason[:300])
            pending = list(letters)
            self._retry("keep the dead letters", lambda: self.dead.deliver(pending))
            processed = sum(o.processed for o in outcomes)
            lag = (time.time() - min(arrivals)) if arrivals else None
            t_stats = time.perf_counter()
            self._retry("count the batch",
                        lambda: self.handler.record_stats(processed, n_letters, lag))
            t_commit = time.perf_counter()
            self._retry("commit the offsets", lambda: self._commit(last))
            t_end = time.perf_counter()
        except Abandoned:
            totals.abandoned += 1
            self._abandon(first)
            return False
        finally:
            self._batch_partitions = set()
        seconds = {"consume": t_decode - t0, "decode": decode_s}
        for outcome in outcomes:
            for stage, value in outcome.seconds.items():
                seconds[stage] = seconds.get(stage, 0.0) + value
        seconds.update({"dead_letters": t_stats - t_dead, "bookkeeping_stats": t_commit - t_stats,
                        "commit": t_end - t_commit})
        warnings = [w for o in outcomes for w in o.warnings]
        for w in warnings[:20]:
            log.warning("%s ingest: %s", self.handler.name, w)
        if len(warnings) > 20:
            log.warning("%s ingest: ... and %d more values stored as NULL", self.handler.name,
                        len(warnings) - 20)
        produced = sum(o.records_produced for o in outcomes)
        rejected_records = sum(o.records_rejected for o in outcomes)
        totals.messages += len(real)
        totals.processed += processed
        totals.rejected += n_letters
        totals.batches += 1
        totals.records_produced += produced
        totals.records_rejected += rejected_records
        totals.nulled += len(warnings)
        for kind, n in run.failures.items():
            totals.failures[kind] = totals.failures.get(kind, 0) + n
        for name, n in counts.items():
            totals.outcomes[name] = totals.outcomes.get(name, 0) + n
        self.state.batch_done(processed, n_letters, produced)
        self.metrics.messages("ingested", processed)
        for name, n in counts.items():
            self.metrics.messages(name, n)
        self.metrics.records(produced, rejected_records)
        self.metrics.nulled(len(warnings))
        self.metrics.failures(run.failures)
        self.metrics.batch(seconds, time.time())
        self._lag(last)
        merged = Outcome(processed=processed, records_produced=produced,
                         records_rejected=rejected_records, warnings=warnings, seconds=seconds,
                         report=[o.report for o in outcomes])
        if on_batch is not None:
            on_batch(merged, totals)
        return True

    def _abandon(self, first: dict[tuple[str, int], int]) -> None:
        """Drop the batch: partitions still ours are read again from its first offsets."""
        from confluent_kafka import KafkaException, TopicPartition

        log.warning("%s ingest: the group took partitions away while a batch waited: the "
                    "batch is left to their new owner", self.handler.name)
        try:
            mine = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        except KafkaException:
            mine = set()
        for (t, p), offset in first.items():
            if (t, p) in mine and (t, p) not in self._revoked:
                try:
                    self.consumer.seek(TopicPartition(t, p, offset))
                except KafkaException as exc:
                    log.debug("seek after abandon: %s", exc)


def broker_probe(admin: Any) -> str | None:
    """None when the broker answers a metadata request within 5 s, else why not."""
    try:
        admin.list_topics(timeout=5)
    except Exception as exc:  # KafkaException and transport errors
        return f"the Kafka broker does not answer ({reason_of(exc)})"
    return None
