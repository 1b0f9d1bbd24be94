"""The one failure policy of skysift's batch loops.

Every error met while a batch is processed is sorted into one of three kinds (:func:`classify`):

``transient``
    The database or the broker is away, restarting, out of connections, locked or slow
    (:class:`~skysift.errors.StoreUnavailable`, :class:`~skysift.errors.BrokerUnavailable`, a
    transient :class:`~skysift.errors.DeliveryError`, a connection error). The same batch is tried
    again after a pause that doubles up to ``retry_backoff_max_s``, for as long as it takes; the
    incident is logged when it starts and when it ends, not at every attempt. No alert is ever
    dead-lettered because of a transient error.
``missing_topics``
    The broker does not know an output topic (deleted, or lost in a broker restart). The topics
    that still belong to active filters are created again and the batch is tried again at once.
``content``
    Anything else (a database refusing a value, a bug met by one alert's data). Before blaming the
    batch, the store and the broker are probed; if either does not answer, the error is handled as
    transient. Otherwise the batch is tried ``batch_max_attempts`` times; then it is split in
    halves, each tried once and split again when it fails, until the alert that fails alone is
    found. That alert is dead-lettered with the error as the reason; the others go on.

A transient error is never turned into a dead letter, however long it lasts: a good alert must
not be thrown away because the database was locked or away. If one ever stays, the loop stays with
it, and says so (the log every 5 minutes, ``/health``, ``skysift_worker_retrying``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import sqlalchemy as sa

from skysift.errors import Abandoned, DeliveryError, SkysiftError, Stopped
from skysift.store.translate import is_transient_db_error

__all__ = ["Abandoned", "Backoff", "BatchRunner", "Incident", "Kind", "RunResult", "Stopped",
           "classify", "reason_of"]

log = logging.getLogger("skysift.worker")

Kind = Literal["transient", "missing_topics", "content"]
T = TypeVar("T")
R = TypeVar("R")

_KAFKA_TRANSIENT = frozenset({
    "_TRANSPORT", "_ALL_BROKERS_DOWN", "_TIMED_OUT", "_MSG_TIMED_OUT", "_WAIT_COORD",
    "_RESOLVE", "REQUEST_TIMED_OUT", "COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR",
    "COORDINATOR_LOAD_IN_PROGRESS", "NETWORK_EXCEPTION", "LEADER_NOT_AVAILABLE",
    "NOT_LEADER_FOR_PARTITION", "BROKER_NOT_AVAILABLE", "_NODE_UPDATE"})


def classify(exc: BaseException) -> Kind:
    """The kind of a batch failure (see the module docstring).

    Examples
    --------
    >>> from skysift.errors import StoreError, StoreUnavailable
    >>> classify(StoreUnavailable("cannot store alerts: connection refused"))
    'transient'
    >>> classify(StoreError("cannot store alerts: NOT NULL constraint failed"))
    'content'
    >>> classify(DeliveryError("gone", missing_topics=frozenset({"lasair_1x"})))
    'missing_topics'
    >>> classify(RecursionError("maximum recursion depth exceeded"))
    'content'
    """
    if isinstance(exc, DeliveryError) and exc.missing_topics and not exc.transient:
        return "missing_topics"
    if isinstance(exc, SkysiftError):
        return "transient" if exc.transient else "content"
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return "transient" if is_transient_db_error(exc) else "content"
    err = exc.args[0] if exc.args else None
    if type(exc).__name__ == "KafkaException" and err is not None and hasattr(err, "name"):
        transient = err.name() in _KAFKA_TRANSIENT or bool(err.retriable())
        return "transient" if transient else "content"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return "transient"
    return "content"


def reason_of(exc: BaseException) -> str:
    """An error as a dead letter's reason: skysift's message, or the type and text of another."""
    if isinstance(exc, SkysiftError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__


@dataclass
class Backoff:
    """Pauses that double from ``first`` up to ``cap`` seconds; :meth:`reset` after a success.

    >>> b = Backoff(first=1, cap=5)
    >>> [b.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    first: float = 1.0
    cap: float = 30.0
    _next: float = field(default=0.0, repr=False)

    def next(self) -> float:
        pause = self._next or float(self.first)
        self._next = min(pause * 2, float(self.cap))
        return min(pause, float(self.cap))

    def reset(self) -> None:
        self._next = 0.0


class Incident:
    """A run of transient failures, said once when it starts, again every ``remind_s`` while it
    lasts, and once when it ends ("recovered after 12 s").

    ``on_change(open, text)`` is called when it starts and ends (the worker's state and metrics).
    """

    def __init__(self, name: str, *, remind_s: float = 300.0,
                 on_change: Callable[[bool, str | None], None] | None = None) -> None:
        self.name = name
        self.remind_s = remind_s
        self.on_change = on_change
        self.since: float | None = None
        self.text: str | None = None
        self.attempts = 0
        self._said = 0.0

    @property
    def open(self) -> bool:
        return self.since is not None

    def begin(self, text: str, pause: float) -> None:
        now = time.monotonic()
        self.attempts += 1
        if self.since is None:
            self.since, self.text, self._said = now, text, now
            log.error("%s: %s; trying again in %.0f s, and until it works (nothing is lost "
                      "or skipped meanwhile)", self.name, text, pause)
            if self.on_change is not None:
                self.on_change(True, text)
        elif text != self.text or now - self._said >= self.remind_s:
            self.text, self._said = text, now
            log.error("%s: still failing after %.0f s (%d attempts): %s", self.name,
                      now - self.since, self.attempts, text)
            if self.on_change is not None:
                self.on_change(True, text)

    def end(self) -> None:
        if self.since is None:
            return
        log.warning("%s: recovered after %.0f s and %d attempts", self.name,
                    time.monotonic() - self.since, self.attempts)
        self.since, self.text, self.attempts = None, None, 0
        if self.on_change is not None:
            self.on_change(False, None)


@dataclass
class RunResult(Generic[T, R]):
    """What :meth:`BatchRunner.run` did: the results of the parts that worked, the alerts found
    to fail alone (with the reason), and how many failures of each kind it met."""

    results: list[R] = field(default_factory=list)
    poison: list[tuple[T, str]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)


class BatchRunner(Generic[T, R]):
    """Runs ``step`` over a batch under the failure policy (module docstring).

    Parameters
    ----------
    step
        Processes a list of items; raises on failure. It must leave nothing half done that a
        new attempt would repeat wrongly (the store transaction rolls back; ``discard`` below
        drops undelivered records).
    discard
        Called after every failed attempt (drop what the attempt queued for delivery).
    probe
        None when the store and the broker answer, else why not.
    repair_topics
        Creates the given topics again where they still belong to active filters.
    wait
        Pauses this many seconds (keeping a consumer alive); raises :class:`Stopped` or
        :class:`Abandoned`.
    incident
        Where transient trouble is said.
    max_attempts, backoff_cap_s
        The ``batch_max_attempts`` and ``retry_backoff_max_s`` settings.
    """

    def __init__(self, step: Callable[[list[T]], R], *, discard: Callable[[], None],
                 probe: Callable[[], str | None], repair_topics: Callable[[frozenset[str]], None],
                 wait: Callable[[float], None], incident: Incident, max_attempts: int = 3,
                 backoff_cap_s: float = 30.0, describe: Callable[[T], str] = str) -> None:
        self.step = step
        self.discard = discard
        self.probe = probe
        self.repair_topics = repair_topics
        self.wait = wait
        self.incident = incident
        self.max_attempts = max(1, max_attempts)
        self.backoff = Backoff(cap=backoff_cap_s)
        self.describe = describe

    def run(self, items: Sequence[T]) -> RunResult[T, R]:
        """Process ``items``: every item ends in a result or in ``poison``, or this raises
        :class:`Stopped` / :class:`Abandoned`."""
        out: RunResult[T, R] = RunResult()
        if items:
            self._run(list(items), self.max_attempts, out)
        return out

    def _count(self, out: RunResult[T, R], kind: str) -> None:
        out.failures[kind] = out.failures.get(kind, 0) + 1

    def _run(self, items: list[T], attempts: int, out: RunResult[T, R]) -> None:
        failures = 0
        repairs = 0
        while True:
            try:
                result = self.step(items)
            except (Stopped, Abandoned):
                self.discard()
                raise
            except Exception as exc:  # every failure is sorted by classify()
                self.discard()
                kind = classify(exc)
                self._count(out, kind)
                if kind == "missing_topics" and repairs < 3:
                    assert isinstance(exc, DeliveryError)
                    repairs += 1
                    log.warning("the broker does not know topic(s) %s: creating them again "
                                "(where they still belong to an active filter)",
                                ", ".join(sorted(exc.missing_topics)))
                    try:
                        self.repair_topics(exc.missing_topics)
                    except Exception as repair_exc:
                        self._pause(f"cannot create topics again: {reason_of(repair_exc)}")
                    continue
                # which part is away, in words; and a content error during an outage is the
                # outage's, not the batch's
                unhealthy = self.probe()
                if kind in ("transient", "missing_topics") or unhealthy is not None:
                    self._pause(reason_of(exc) if unhealthy is None
                                else f"{unhealthy} ({reason_of(exc)})")
                    continue
                failures += 1
                if failures < attempts:
                    log.warning("batch of %d failed (attempt %d of %d), trying again: %s",
                                len(items), failures, attempts, reason_of(exc))
                    self.wait(min(failures, 5.0))
                    continue
                self.incident.end()
                if len(items) == 1:
                    why = (f"poison: processing failed {failures} time(s) with this alert "
                           f"alone: {reason_of(exc)}")
                    log.error("dead-lettering %s: %s", self.describe(items[0]), why)
                    out.poison.append((items[0], why))
                    return
                log.error("batch of %d failed %d time(s) (%s): splitting it to find the "
                          "alert that causes it", len(items), failures, reason_of(exc))
                mid = len(items) // 2
                self._run(items[:mid], 1, out)
                self._run(items[mid:], 1, out)
                return
            self.incident.end()
            self.backoff.reset()
            out.results.append(result)
            return

    def _pause(self, text: str) -> None:
        pause = self.backoff.next()
        self.incident.begin(text, pause)
        self.wait(pause)
