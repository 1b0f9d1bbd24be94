"""Dead letters delivered for certain before a batch's offsets are committed.

Messages from Kafka go to ``<input topic>.dlq`` (value unchanged, reason and origin in headers:
:func:`skysift.alerts.deadletter.dead_letter_record`); each delivery is confirmed. A letter the
broker refuses for itself (too large for the topic, say) is kept in the dead-letter folder
instead, with both reasons; alerts from files always go to the folder. What cannot be kept
anywhere raises, so the batch is not committed and the bad alert is not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from skysift.alerts.deadletter import DeadLetterFolder, dead_letter_record
from skysift.errors import BrokerUnavailable, SkysiftError
from skysift.worker.handler import Letter

__all__ = ["DeadLetters"]

log = logging.getLogger("skysift.worker")

_MISSING = frozenset({"UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION"})
_TRANSIENT = frozenset({"_MSG_TIMED_OUT", "_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN",
                        "REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS", "LEADER_NOT_AVAILABLE",
                        "NOT_LEADER_FOR_PARTITION", "_PURGE_QUEUE", "_PURGE_INFLIGHT"})


class DeadLetters:
    """Keeps dead letters: Kafka dead-letter topics (confirmed), else the folder.

    Parameters
    ----------
    folder
        The dead-letter folder (``settings.dead_letter_dir``).
    producer
        A confluent_kafka.Producer, or None when there is no Kafka (file ingest).
    ensure_topic
        Creates a dead-letter topic (idempotent).
    timeout_s
        How long to wait for the broker to confirm.
    """

    def __init__(self, folder: DeadLetterFolder, producer: Any = None,
                 ensure_topic: Callable[[str], object] | None = None, timeout_s: float = 30.0):
        self.folder = folder
        self.producer = producer
        self.ensure_topic = ensure_topic
        self.timeout_s = timeout_s
        self.ready: set[str] = set()
        self.kept_in_folder = 0

    def forget_topics(self) -> None:
        """Check the dead-letter topics again before the next use (after broker trouble)."""
        self.ready.clear()

    def deliver(self, letters: list[Letter]) -> None:
        """Keep every letter of ``letters``, removing each from the list once it is kept.

        Raises
        ------
        BrokerUnavailable
            The broker did not confirm some in time, or was away, or did not know the topic
            (transient: call again with the same list, which then holds only those).
        SkysiftError
            The folder cannot be written.
        """
        for letter in [x for x in letters if not self._for_kafka(x)]:
            self._to_folder(letter, letter.reason)
            letters.remove(letter)
        if not letters:
            return
        results: list[Any] = [None] * len(letters)
        for i, letter in enumerate(letters):
            topic, key, value, headers = dead_letter_record(letter.raw or b"", letter.origin,
                                                            letter.reason)
            if topic not in self.ready and self.ensure_topic is not None:
                self.ensure_topic(topic)
                self.ready.add(topic)

            def done(err: Any, _msg: Any, i: int = i) -> None:
                results[i] = err if err is not None else True

            try:
                self.producer.produce(topic, key=key, value=value, headers=headers,
                                      on_delivery=done)
            except BufferError as exc:
                raise BrokerUnavailable("the producer's queue is full: cannot dead-letter",
                                        topic=topic) from exc
            except Exception as exc:  # KafkaException: refused before sending
                results[i] = exc.args[0] if exc.args else exc
        self.producer.flush(self.timeout_s)
        kept: list[Letter] = []
        for letter, result in zip(letters, results, strict=True):
            if result is True:
                kept.append(letter)
                continue
            name = result.name() if hasattr(result, "name") else None
            if result is None or name in _TRANSIENT:
                continue  # not confirmed: try again
            if name in _MISSING:
                self.ready.clear()
                continue
            text = result.str() if hasattr(result, "str") else str(result)
            log.warning("the dead-letter topic refused %s (%s): kept in %s instead",
                        letter.origin.describe(), text, self.folder.root)
            self._to_folder(letter, f"{letter.reason} (kept here: the dead-letter topic "
                                    f"refused it: {text})")
            kept.append(letter)
        for letter in kept:
            letters.remove(letter)
        if letters:
            raise BrokerUnavailable(f"{len(letters)} dead letter(s) not confirmed by the broker")

    def _for_kafka(self, letter: Letter) -> bool:
        return (self.producer is not None and letter.origin.topic is not None
                and letter.raw is not None)

    def _to_folder(self, letter: Letter, reason: str) -> None:
        raw = letter.raw if letter.origin.path is None else None
        try:
            self.folder.keep(raw, letter.origin, reason)
        except SkysiftError:
            raise
        except OSError as exc:  # pragma: no cover - keep() translates its own OSErrors
            raise SkysiftError(f"cannot keep a dead letter: {exc}",
                               path=str(self.folder.root)) from exc
        self.kept_in_folder += 1
