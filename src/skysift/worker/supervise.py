"""``skysift serve`` runs its ingest loop in a thread that is started again if it ever ends.

The loop itself never gives up on a batch (:mod:`skysift.worker.policy`), so this is the last
line: an error nobody foresaw (or the loop ending while it was not asked to stop) is logged with
its traceback, the worker's state says ``restarting``, and the loop starts again after a pause
that doubles from 1 s up to 60 s (reset after a run that lasted a minute).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from skysift.worker.metrics import LoopMetrics
from skysift.worker.policy import Backoff, reason_of
from skysift.worker.state import WorkerState

__all__ = ["Supervisor"]

log = logging.getLogger("skysift.worker")


class Supervisor:
    """Keeps ``target(stop, state)`` running in a daemon thread until :meth:`stop`.

    Parameters
    ----------
    name
        The loop's name ("alerts").
    target
        Runs the loop; gets a callable that says when to stop, and the WorkerState to report to.
    state
        The WorkerState the web app shows (home page, ``/health``).
    """

    def __init__(self, name: str, target: Callable[[Callable[[], bool], WorkerState], Any],
                 state: WorkerState | None = None, backoff_cap_s: float = 60.0) -> None:
        self.name = name
        self.target = target
        self.state = state or WorkerState(name)
        self.metrics = LoopMetrics(name)
        self.backoff = Backoff(cap=backoff_cap_s)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"skysift-{name}", daemon=True)
        self.result: Any = None

    def start(self) -> Supervisor:
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to stop (after its batch) and wait for it."""
        self._stop.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.result = self.target(self._stop.is_set, self.state)
                if self._stop.is_set():
                    break
                why = "the ingest loop ended by itself"
                log.error("%s ingest: %s; starting it again", self.name, why)
            except Exception as exc:  # the last line: log it, start again
                why = reason_of(exc)
                log.exception("%s ingest stopped with an error; starting it again", self.name)
            if time.monotonic() - started > 60:
                self.backoff.reset()
            pause = self.backoff.next()
            self.state.restarted(why)
            self.metrics.restarted()
            self.metrics.error(why, time.time())
            if self._stop.wait(pause):
                break
        self.state.set_status("stopped")
