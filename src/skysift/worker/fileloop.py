"""Alert files through the same handler and failure policy as the Kafka loop.

Files are read in order; their alerts are gathered into batches of ``batch_size``. A record that
is not an alert, an alert the handler refuses and an alert found to fail alone are kept in the
dead-letter folder with the reason (the file is copied there once, each bad record gets its own
reason note); the rest of the file and the run go on. A file whose reading fails part way (for
any reason) is kept whole in the folder, with the reason and how many of its records were read.
Transient trouble (the database restarting) is waited out, as in the Kafka loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from skysift.alerts.deadletter import DeadLetterFolder
from skysift.alerts.model import AlertOrigin
from skysift.config import Settings
from skysift.errors import AlertDecodeError
from skysift.worker.deadletters import DeadLetters
from skysift.worker.handler import Handler, Letter, Outcome
from skysift.worker.kafkaloop import LoopTotals
from skysift.worker.metrics import LoopMetrics
from skysift.worker.policy import Backoff, BatchRunner, Incident, Stopped, reason_of
from skysift.worker.state import WorkerState

__all__ = ["run_files"]

log = logging.getLogger("skysift.worker")


# complexity accepted (C901): the file loop's retry, dead-letter and stop paths kept in one place
def run_files(settings: Settings, handler: Handler, paths: Iterable[str | Path], *,  # noqa: C901
              read: Callable[[Path], Iterable[Any]], files: list[Path],
              probe: Callable[[], str | None], state: WorkerState, metrics: LoopMetrics,
              progress: bool = True, stop: Callable[[], bool] | None = None,
              on_batch: Callable[[Outcome, LoopTotals], None] | None = None) -> LoopTotals:
    """Run ``handler`` over the alerts of ``files`` (``read(path)`` yields alerts or
    AlertDecodeErrors), under the failure policy. ``paths`` is only used in messages."""
    from tqdm import tqdm

    del paths
    should_stop = stop if stop is not None else (lambda: False)  # a StopFlag is falsy
    folder = DeadLetterFolder(settings.dead_letter_dir)
    dead = DeadLetters(folder)
    incident = Incident(f"{handler.name} ingest", on_change=state.incident_changed)

    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if should_stop():
                raise Stopped()
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    runner: BatchRunner[Any, Outcome] = BatchRunner(
        handler.process, discard=handler.discard, probe=probe,
        repair_topics=lambda topics: None, wait=wait, incident=incident,
        max_attempts=settings.batch_max_attempts, backoff_cap_s=settings.retry_backoff_max_s,
        describe=lambda item: item.origin.describe())
    totals = LoopTotals()
    batch: list[Any] = []
    letters: list[Letter] = []

    def retry(what: str, fn: Callable[[], Any]) -> None:
        backoff = Backoff(cap=settings.retry_backoff_max_s)
        while True:
            try:
                fn()
            except Stopped:
                raise
            except Exception as exc:  # wait and try again
                pause = backoff.next()
                incident.begin(f"cannot {what}: {reason_of(exc)}", pause)
                wait(pause)
                continue
            incident.end()
            return

    def flush_batch() -> None:
        t0 = time.perf_counter()
        run = runner.run(batch)
        for outcome in run.results:
            for item, why in outcome.rejected:
                letters.append(handler.item_letter(item, why, "refused"))
        for item, why in run.poison:
            letters.append(handler.item_letter(item, why, "poison"))
        counts: dict[str, int] = {}
        for letter in letters:
            counts[letter.outcome] = counts.get(letter.outcome, 0) + 1
            log.warning("rejected %s: %s", letter.origin.describe(), letter.reason[:300])
        n_letters = len(letters)
        retry("keep the dead letters", lambda: dead.deliver(letters))
        processed = sum(o.processed for o in run.results)
        retry("count the batch", lambda: handler.record_stats(processed, n_letters, None))
        produced = sum(o.records_produced for o in run.results)
        rejected_records = sum(o.records_rejected for o in run.results)
        warnings = [w for o in run.results for w in o.warnings]
        for w in warnings[:20]:
            log.warning("%s", w)
        totals.messages += processed + n_letters
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
        state.batch_done(processed, n_letters, produced)
        metrics.messages("ingested", processed)
        for name, n in counts.items():
            metrics.messages(name, n)
        metrics.records(produced, rejected_records)
        metrics.nulled(len(warnings))
        metrics.failures(run.failures)
        seconds: dict[str, float] = {}
        for o in run.results:
            for stage, value in o.seconds.items():
                seconds[stage] = seconds.get(stage, 0.0) + value
        metrics.batch(seconds, time.time())
        if on_batch is not None:
            on_batch(Outcome(processed=processed, records_produced=produced,
                             records_rejected=rejected_records, warnings=warnings,
                             seconds={"total": time.perf_counter() - t0, **seconds},
                             report=[o.report for o in run.results]), totals)
        batch.clear()
        letters.clear()

    state.set_status("running")
    try:
        bar = tqdm(files, unit="file", desc="ingest", disable=not progress)
        for path in bar:
            if should_stop():
                break
            read_so_far = 0
            try:
                for item in read(path):
                    read_so_far += 1
                    if isinstance(item, AlertDecodeError):
                        origin = AlertOrigin(path=str(path), index=getattr(item, "record", None))
                        letters.append(Letter(None, origin, str(item), "undecodable"))
                        continue
                    batch.append(item)
                    if len(batch) >= settings.batch_size:
                        flush_batch()
            except Stopped:
                raise
            except Exception as exc:  # a reader that fails part way: keep the file
                why = (f"reading stopped after {read_so_far} record(s): {reason_of(exc)}; "
                       "the records read before were processed")
                letters.append(Letter(None, AlertOrigin(path=str(path)), why, "undecodable"))
            if letters and not batch:
                flush_batch()  # dead letters of a file are kept as soon as it is read
        if batch or letters:
            flush_batch()
    except Stopped:
        log.info("%s ingest: stopped while a batch waited", handler.name)
    finally:
        state.set_status("stopped")
    return totals
