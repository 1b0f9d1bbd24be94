"""Replays from the web site and the API as jobs of the web process, with their progress.

A replay asked for on a filter's page, or by ``POST /api/filters/{id}/replay/`` with
``wait=false``, runs in a background thread of the web process (:meth:`ReplayJobs.start`) and the
request is answered at once; the page polls its progress and shows the report when it is done.
The API's default, synchronous replay is a job as well, run in the request's own thread, so it
is counted the same way.

- **At most** :data:`MAX_RUNNING` replays run at once in a process; one more is refused with
  :class:`~skysift.errors.RateLimited` (429) saying so, not queued.
- **Progress** (:meth:`ReplayJob.as_dict`): the nights (total, gone through, the one being
  read), the alerts (the archive's count for those nights, and how many were read: a night that
  is over counts whole, its duplicates and unreadable alerts included), the records produced so
  far, the state (``running``, ``done``, ``failed``), then the report
  (``BacktestReport.as_dict()`` and ``undelivered``) or the error.
- **Owners**: a job belongs to the user who started it, for one filter; anyone else asking
  about it gets 404, as for a job that does not exist.
- **Kept**: running jobs, and the newest :data:`KEEP_FINISHED` finished ones.

Jobs live in the memory of the process that runs them: with several web processes a poll must
reach the same one, and a restart forgets them. The threads are daemons: a replay still running
when the process stops is cut short (what it produced stays in the topic, but is not added to
the quota's counts).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from skysift.archive import nights_to_run
from skysift.backtest import NightResult, check_replay_topic, compile_for_owner
from skysift.config import Settings
from skysift.errors import NotFound, RateLimited, SkysiftError
from skysift.filters.repository import Filter
from skysift.web.backtests import replay_into

__all__ = ["JOBS", "KEEP_FINISHED", "MAX_RUNNING", "ReplayJob", "ReplayJobs"]

log = logging.getLogger(__name__)

#: Replays that may run at once in one web process (more are refused with 429).
MAX_RUNNING = 2
#: Finished replays kept in a process for their pages and polls (the newest ones).
KEEP_FINISHED = 50


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


@dataclass(eq=False)
class ReplayJob:
    """One replay of a filter by its owner, and how far it has gone."""

    id: str
    user_id: int
    filter_id: int
    topic: str | None  # the topic it writes
    asked: dict[str, str]  # from, to (YYYY-MM-DD) and topic ("" for the filter's own)
    nights: dict[str, int]  # the archived nights it goes through, and their alerts
    state: str = "running"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    _t0: float = field(default_factory=time.monotonic)
    _t1: float | None = None
    _night: str | None = None  # the night being read
    _read: dict[str, int] = field(default_factory=dict)  # alerts read, per night
    _records: dict[str, int] = field(default_factory=dict)  # records produced, per night
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _over: threading.Event = field(default_factory=threading.Event)

    def progress(self, night: NightResult) -> None:
        """A batch of ``night`` went through (the replay's ``on_batch``)."""
        with self._lock:
            self._night = night.night
            self._read[night.night] = night.alerts
            self._records[night.night] = night.records

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job is over; whether it is."""
        return self._over.wait(timeout)

    def as_dict(self) -> dict[str, Any]:
        """The progress, as the page's poll and the API answer it."""
        with self._lock:
            names = list(self.nights)
            if self.state == "done":
                past = len(names)
            elif self._night in self.nights:
                past = names.index(self._night)
            else:
                past = 0
            # a night before the one being read is over: all its alerts were gone through
            read = sum(self.nights[n] for n in names[:past])
            if self.state != "done" and self._night in self.nights:
                read += self._read.get(self._night, 0)
            records = (int(self.report["records"]) if self.report is not None
                       else sum(self._records.values()))
            out: dict[str, Any] = {
                "job": self.id, "filter": self.filter_id, "state": self.state,
                "from": self.asked.get("from"), "to": self.asked.get("to"),
                "topic": self.topic, "nights": names,
                "night": self._night if self.state == "running" else None,
                "nights_total": len(names), "nights_done": past,
                "alerts_total": sum(self.nights.values()), "alerts_done": read,
                "records": records, "started": _iso(self.started),
                "finished": _iso(self.finished),
                "seconds": round((self._t1 or time.monotonic()) - self._t0, 1),
                "report": self.report, "error": self.error}
        out["text"] = progress_text(out)
        return out

    def run(self, settings: Settings, engine: sa.Engine, flt: Filter, *,
            topic: str | None, reraise: bool = False) -> None:
        """Run the replay here; its report or error is kept. ``reraise``: the error is raised
        again as well (the API's synchronous replay answers it as it always did)."""
        report: dict[str, Any] | None = None
        error: str | None = None
        try:
            result, left = replay_into(settings, engine, flt, nights=list(self.nights),
                                       topic=topic, on_batch=self.progress)
            report = {**result.as_dict(), "undelivered": left}
        except Exception as exc:  # kept for the page and the poll; logged when unexpected
            if isinstance(exc, SkysiftError):
                error = exc.message
                log.warning("replay %s of filter %s failed: %s", self.id, flt.name, exc)
            elif isinstance(exc, sa.exc.SQLAlchemyError):
                error = "the store is unavailable; try again later"
                if not reraise:  # raised: the app's handler logs it once
                    log.exception("replay %s of filter %s: the store failed", self.id,
                                  flt.name)
            else:
                error = "internal error (it has been logged)"
                if not reraise:
                    log.exception("replay %s of filter %s failed", self.id, flt.name)
            if reraise:
                raise
        finally:
            with self._lock:
                self._t1 = time.monotonic()
                self.finished = datetime.now(UTC)
                self.report = report
                self.error = error if report is None else None
                if report is None and self.error is None:  # interrupted (KeyboardInterrupt...)
                    self.error = "the replay was interrupted"
                self.state = "done" if report is not None else "failed"
            self._over.set()


def progress_text(job: dict[str, Any]) -> str:
    """One line for a person: how far the job is (the page's text under the bar)."""
    alerts = f"{job['alerts_done']:,} of {job['alerts_total']:,} alerts"
    records = f"{job['records']:,} record{'' if job['records'] == 1 else 's'}"
    if job["state"] == "done":
        return (f"Done: {alerts} of {job['nights_total']} night(s) read, {records} produced "
                f"into {job['topic']} in {job['seconds']:.1f} s.")
    if job["state"] == "failed":
        return (f"Failed after {job['seconds']:.1f} s ({alerts} read, {records} produced): "
                f"{job['error']}")
    where = (f"night {job['nights_done'] + 1} of {job['nights_total']} ({job['night']})"
             if job["night"] else f"starting on {job['nights_total']} night(s)")
    return f"Replaying {where}: {alerts} read, {records} produced, {job['seconds']:.0f} s so far."


class ReplayJobs:
    """The replay jobs of one process (:data:`JOBS`), safe across threads."""

    def __init__(self) -> None:
        self._jobs: dict[str, ReplayJob] = {}
        self._lock = threading.Lock()

    def running(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state == "running")

    def room(self) -> None:
        """:class:`RateLimited` (429) when :data:`MAX_RUNNING` replays run already; checked
        before a replay is counted against the rate limit, and again when it starts."""
        with self._lock:
            self._room()

    def _room(self, user_id: int | None = None, filter_id: int | None = None) -> None:
        running = [j for j in self._jobs.values() if j.state == "running"]
        if filter_id is not None and any(j.filter_id == filter_id for j in running):
            # one at a time per filter: each replay reads the day's quota when it starts
            raise RateLimited("a replay of this filter is running already: try again when it "
                              "is done")
        if user_id is not None and any(j.user_id == user_id for j in running):
            raise RateLimited("a replay of yours is running already (one at a time per user):"
                              " try again when it is done")
        limit = MAX_RUNNING
        if len(running) >= limit:
            raise RateLimited(f"{limit} replay{'' if limit == 1 else 's'} already running on "
                              f"this server (at most {limit} at once): try again when one is "
                              "done")

    def start(self, settings: Settings, engine: sa.Engine, flt: Filter, *, user_id: int,
              nights: list[str], topic: str | None, wait: bool) -> ReplayJob:
        """Start a replay of ``flt`` over ``nights`` into ``topic`` (checked already by
        :func:`skysift.web.backtests.replay_topic`; None: its own).

        ``wait``: run it in this thread and return it done (its error raised again, as a
        replay always raised it); else run it in a background thread and return at once.

        Raises
        ------
        ArchiveError
            The archive holds none of ``nights`` (400), before anything starts.
        FilterError
            An email filter and no topic named.
        RateLimited
            :data:`MAX_RUNNING` replays run already.
        """
        held = nights_to_run(settings, nights)
        check_replay_topic(flt, topic)
        compile_for_owner(engine, flt)  # invalid SQL: 400 now, not a job that fails
        target = topic or (None if flt.output == "email" else flt.topic)
        asked = {"from": nights[0], "to": nights[-1], "topic": topic or ""}
        with self._lock:
            self._room(int(user_id), int(flt.id))
            job = ReplayJob(id=secrets.token_hex(8), user_id=int(user_id),
                            filter_id=int(flt.id), topic=target, asked=asked, nights=held)
            self._jobs[job.id] = job
        if wait:
            try:
                job.run(settings, engine, flt, topic=topic, reraise=True)
            finally:
                self._forget_old()
            return job

        def work() -> None:
            try:
                job.run(settings, engine, flt, topic=topic)
            finally:
                self._forget_old()

        try:
            threading.Thread(target=work, name=f"replay-{job.id}", daemon=True).start()
        except BaseException:  # no thread: the job never ran, and must not hold its slot
            with self._lock:
                self._jobs.pop(job.id, None)
            raise
        return job

    def get(self, job_id: str, *, user_id: int, filter_id: int | str) -> ReplayJob:
        """The job, if ``user_id`` started it for ``filter_id``; :class:`NotFound` otherwise
        (another user's job is not told from a job that does not exist)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.user_id != int(user_id) or str(job.filter_id) != str(filter_id):
            raise NotFound(f"no replay {job_id[:40]} of yours for filter {str(filter_id)[:20]} "
                           f"on this server (finished replays are kept a while: the newest "
                           f"{KEEP_FINISHED}, until the server restarts)")
        return job

    def _forget_old(self) -> None:
        with self._lock:
            done = sorted((j for j in self._jobs.values() if j.state != "running"),
                          key=lambda j: j.finished or j.started)
            for job in done[:max(0, len(done) - KEEP_FINISHED)]:
                del self._jobs[job.id]


#: The replay jobs of this process.
JOBS = ReplayJobs()
