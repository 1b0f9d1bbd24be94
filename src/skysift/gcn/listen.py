"""The listening loop: consume igwn.gwalert, process each notice, commit, keep the status file.

Offsets are committed only after a notice has been processed (written, filtered or rejected), so a
listener killed at any moment re-reads at most the notice it was working on, and processing it
again changes nothing. A restart resumes from the committed offsets of the stored group id.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from skysift.errors import GcnKafkaError
from skysift.gcn.connection import consumer_config, make_consumer, pin_new_group
from skysift.gcn.pipeline import AlertProcessor, Outcome
from skysift.gcn.rejected import save_rejected
from skysift.gcn.settings import GcnSettings, ensure_group_id
from skysift.gcn.state import ListenerState

__all__ = ["handle_message", "listen"]

log = logging.getLogger("skysift.gcn")


def handle_message(processor: AlertProcessor, raw: bytes, where: dict[str, Any],
                   state: ListenerState | None = None, attempts: int = 3,
                   unknown: Sequence[str] = ()) -> Outcome:
    """Process one message, retrying when the disk (not the notice) fails; ``unknown`` as for
    :meth:`AlertProcessor.process`."""
    for attempt in range(attempts):
        try:
            return processor.process(raw, unknown=unknown, **where)
        except OSError as exc:
            log.error("cannot write alert (attempt %d of %d): %s", attempt + 1, attempts, exc)
            if state:
                state.error(f"cannot write alert: {exc}", **where)
            time.sleep(min(2**attempt, 10))
    try:
        save_rejected(processor.settings.download_dir, raw,
                      ["could not be written (disk error)"], where)
    except OSError:
        log.error("cannot even save the rejected notice (%s)", where)
    return Outcome("rejected", problems=["disk error"])


def listen(settings: GcnSettings, *, processor: AlertProcessor | None = None,
           stop: threading.Event | None = None, state: ListenerState | None = None,
           poll_timeout: float = 1.0) -> ListenerState:
    """Listen until ``stop`` is set. Generates and stores the group id on first use.

    Raises
    ------
    GcnKafkaError
        When the consumer meets a fatal Kafka error (it cannot go on); the state says why.
    """
    settings = ensure_group_id(settings)
    processor = processor or AlertProcessor(settings)
    stop = stop or threading.Event()
    state = state or ListenerState(None, 0)
    consumer = make_consumer(settings, consumer_config(settings, settings.group_id))
    try:
        if pin_new_group(consumer, settings.topic, settings.start_at):
            log.info("first connection of group %s: starting at the end of %s", settings.group_id,
                     settings.topic)

        def on_assign(_consumer: Any, partitions: list[Any]) -> None:
            log.info("listening to %s partitions %s", settings.topic,
                     [p.partition for p in partitions])
            state.set(force=True, status="running", assigned=[p.partition for p in partitions])

        processor.warm_up()
        consumer.subscribe([settings.topic], on_assign=on_assign)
        state.set(force=True, status="connecting", group_id=settings.group_id, topic=settings.topic)
        log.info("listening to %s as group %s", settings.topic, settings.group_id)
        while not stop.is_set():
            msg = consumer.poll(poll_timeout)
            if msg is None:
                state.set()
                continue
            if msg.error():
                err = msg.error()
                log.warning("Kafka: %s", err)
                if err.fatal():
                    state.error(f"fatal Kafka error: {err}")
                    raise GcnKafkaError(f"fatal Kafka error: {err}", topic=settings.topic)
                continue
            where = {"topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}
            outcome = handle_message(processor, msg.value() or b"", where, state)
            if outcome.status == "rejected":
                state.error("; ".join(outcome.problems)[:500], **where)
            # count before committing: a kill in between re-reads (and re-counts) the notice
            # rather than losing it from the counters
            state.count(outcome.status,
                        f"{outcome.superevent_id} {outcome.alert_type} {outcome.status}")
            try:
                consumer.commit(message=msg, asynchronous=False)
            except (
                Exception
            ) as exc:  # KafkaException: will be re-read, and re-processing is a no-op
                log.warning("commit failed at %s: %s", where, exc)
                state.error(f"commit failed: {exc}", **where)
    finally:
        with contextlib.suppress(Exception):  # closing a broken consumer
            consumer.close()
        state.set(force=True, status="stopped")
    return state
