"""Output topic names and topic administration (create, empty, delete).

Topic name rule (Lasair's, made safe): ``lasair_`` + the owner's numeric id + the filter name with
every character outside ``[A-Za-z0-9._-]`` removed (ASCII only), cut to Kafka's 249-character limit.
Lasair's rule lets two users collide (user 1 "2SN" and user 12 "SN" both give ``lasair_12SN``);
skysift refuses such a name instead (see :mod:`skysift.filters.manage`).

Emptying a topic is delete-and-recreate: the embedded broker does not implement DeleteRecords
(embedded-kafka.md quirk 3), and on a real Kafka it is the same operation Lasair uses.
"""

from __future__ import annotations

import re
import time
from typing import Any

from skysift.config import Settings
from skysift.errors import BrokerError, FilterRejected
from skysift.errors import BrokerUnavailable

__all__ = [
    "MAX_TOPIC_LENGTH",
    "TOPIC_PREFIX",
    "create_topic",
    "delete_topic",
    "ensure_topics",
    "recreate_topic",
    "topic_exists",
    "topic_name",
]

TOPIC_PREFIX = "lasair_"
MAX_TOPIC_LENGTH = 249
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._-]")


def topic_name(user_id: int, filter_name: str) -> str:
    """The Kafka topic of user ``user_id``'s filter ``filter_name``.

    >>> topic_name(2, "Has abs mag!")
    'lasair_2Hasabsmag'
    >>> topic_name(7, "Süpernova é")
    'lasair_7Spernova'
    >>> topic_name(2, "超新星_ñ_🚀")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    skysift.errors.FilterRejected: the filter name must contain at least one ASCII letter or
    digit: the topic keeps only A-Z a-z 0-9 . _ - of it, and would name nothing of yours
    ('lasair_2__') (filter=超新星_ñ_🚀)
    """
    cleaned = _NOT_ALLOWED.sub("", filter_name)
    if not any(c.isascii() and c.isalnum() for c in cleaned):
        raise FilterRejected(
            "the filter name must contain at least one ASCII letter or digit: the topic keeps "
            "only A-Z a-z 0-9 . _ - of it, and would name nothing of yours "
            f"('{TOPIC_PREFIX}{int(user_id)}{cleaned}')", filter=filter_name)
    return (f"{TOPIC_PREFIX}{int(user_id)}{cleaned}")[:MAX_TOPIC_LENGTH]


def _wait(futures: dict[str, Any], action: str, ignore: tuple[str, ...] = ()) -> None:
    from confluent_kafka import KafkaException

    for topic, fut in futures.items():
        try:
            fut.result(timeout=30)
        except KafkaException as exc:
            err = exc.args[0]
            if err.name() in ignore:
                continue
            raise BrokerError(f"cannot {action} topic: {err.str()}", topic=topic) from exc
        except Exception as exc:  # librdkafka timeouts and transport errors
            raise BrokerError(f"cannot {action} topic: {exc}", topic=topic) from exc


def topic_exists(admin: Any, topic: str) -> bool:
    """Whether the broker lists ``topic``.

    Asks for all topics: a metadata request naming one topic can auto-create it on brokers that
    allow that (the embedded one does), which would undo a delete.
    """
    md = admin.list_topics(timeout=10)
    t = md.topics.get(topic)
    return t is not None and t.error is None


def create_topic(admin: Any, settings: Settings, topic: str, *,
                 partitions: int | None = None) -> None:
    """Create an output topic with the configured retention and message size (idempotent)."""
    from confluent_kafka.admin import NewTopic

    new = NewTopic(
        topic,
        num_partitions=partitions or settings.topic_partitions,
        replication_factor=-1,
        config={
            "retention.ms": str(settings.topic_retention_ms),
            "max.message.bytes": str(settings.topic_max_message_bytes),
        },
    )
    _wait(admin.create_topics([new], operation_timeout=30), "create",
          ignore=("TOPIC_ALREADY_EXISTS",))


def ensure_topics(admin: Any, settings: Settings, topics: set[str] | frozenset[str]) -> list[str]:
    """Create those of ``topics`` the broker does not list; returns the ones created.

    One metadata request for all of them, then one CreateTopics call for the missing ones.

    Raises
    ------
    BrokerError
        The broker did not answer, or refused to create a topic.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewTopic

    if not topics:
        return []
    try:
        listed = admin.list_topics(timeout=10).topics
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot list topics: {exc.args[0].str()}") from exc
    missing = sorted(t for t in topics if t not in listed or listed[t].error is not None)
    if not missing:
        return []
    new = [NewTopic(t, num_partitions=settings.topic_partitions, replication_factor=-1,
                    config={"retention.ms": str(settings.topic_retention_ms),
                            "max.message.bytes": str(settings.topic_max_message_bytes)})
           for t in missing]
    _wait(admin.create_topics(new, operation_timeout=30), "create",
          ignore=("TOPIC_ALREADY_EXISTS",))
    return missing


def delete_topic(admin: Any, topic: str, *, wait_s: float = 10.0) -> None:
    """Delete a topic (a missing one is fine) and wait until the broker no longer lists it."""
    _wait(admin.delete_topics([topic], operation_timeout=30), "delete",
          ignore=("UNKNOWN_TOPIC_OR_PART", "UNKNOWN_TOPIC_ID"))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and topic_exists(admin, topic):
        time.sleep(0.1)


def recreate_topic(admin: Any, settings: Settings, topic: str) -> None:
    """Empty a topic: delete it and create it again (DeleteRecords is not available everywhere)."""
    delete_topic(admin, topic)
    deadline = time.monotonic() + 10.0
    while True:
        try:
            create_topic(admin, settings, topic)
            return
        except BrokerError:
            # a real Kafka may still be finishing the deletion; try again briefly
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
