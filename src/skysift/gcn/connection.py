"""Kafka consumers for the listener and echo, through gcn-kafka.

With ``client_id`` set, gcn-kafka configures OIDC (SASL OAUTHBEARER) against GCN. The
``gcn-kafka.kafka`` pass-through dict wins over every default here; without credentials and with a
``bootstrap.servers`` of its own, the connection defaults to PLAINTEXT, which is how a local broker
(the embedded one in tests) is used.
"""

from __future__ import annotations

import uuid
from typing import Any

from skysift.errors import BrokerError
from skysift.gcn.settings import GcnSettings

__all__ = ["consumer_config", "make_consumer", "pin_new_group"]


def consumer_config(settings: GcnSettings, group_id: str | None) -> dict[str, Any]:
    """librdkafka config: the user's pass-through keys, then the listener's defaults."""
    cfg: dict[str, Any] = dict(settings.kafka)
    if not settings.client_id and "bootstrap.servers" in cfg:
        cfg.setdefault("security.protocol", "PLAINTEXT")
    cfg.setdefault("group.id", group_id or f"skysift-echo-{uuid.uuid4().hex}")
    cfg.setdefault("enable.auto.commit", False)
    cfg.setdefault("auto.offset.reset", "earliest")
    cfg.setdefault("session.timeout.ms", 6000)
    cfg.setdefault("max.poll.interval.ms", 600000)
    cfg.setdefault("fetch.message.max.bytes", 8 * 1024 * 1024)
    cfg.setdefault("enable.partition.eof", False)
    return cfg


def make_consumer(settings: GcnSettings, config: dict[str, Any]) -> Any:
    """A ``gcn_kafka.Consumer`` (OIDC when credentials are set); errors become BrokerError."""
    import gcn_kafka

    try:
        if settings.client_id:
            return gcn_kafka.Consumer(config=config, client_id=settings.client_id,
                                      client_secret=settings.client_secret, domain=settings.domain)
        return gcn_kafka.Consumer(config=config, domain=settings.domain)
    except Exception as exc:  # KafkaException, ValueError on bad config keys
        raise BrokerError(f"cannot create the GCN Kafka consumer: {exc}") from exc


def pin_new_group(consumer: Any, topic: str, start_at: str, timeout: float = 10.0) -> bool:
    """On a group's first connection, commit the end of every partition so it starts there.

    Without this a listener that starts, sees nothing, and is killed would restart at the end
    again and miss the alerts sent meanwhile. Returns True when offsets were pinned. A group that
    has committed offsets, or ``start_at == "beginning"``, is left alone.
    """
    from confluent_kafka import TopicPartition

    try:
        meta = consumer.list_topics(topic, timeout=timeout)
    except Exception as exc:
        raise BrokerError(f"cannot reach Kafka: {exc}", topic=topic) from exc
    tmeta = meta.topics.get(topic)
    if tmeta is None or tmeta.error is not None or not tmeta.partitions:
        return False
    parts = [TopicPartition(topic, p) for p in sorted(tmeta.partitions)]
    committed = consumer.committed(parts, timeout=timeout)
    if any(tp.offset >= 0 for tp in committed) or start_at != "end":
        return False
    ends = []
    for tp in parts:
        _low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
        ends.append(TopicPartition(topic, tp.partition, max(high, 0)))
    consumer.commit(offsets=ends, asynchronous=False)
    return True
