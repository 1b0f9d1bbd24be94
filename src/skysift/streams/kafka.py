"""Kafka client configuration and thin wrappers around confluent-kafka.

The user's librdkafka keys (``kafka_config`` setting) always win: skysift's defaults are applied
with ``setdefault``, as gcn-kafka does. Wrappers make no network call in ``__init__``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skysift.config import Settings
from skysift.errors import BrokerError

__all__ = ["bootstrap_servers", "client_config", "producer_config", "consumer_config", "admin",
           "prefetch_kbytes"]


def bootstrap_servers(settings: Settings) -> str:
    """The broker to talk to: ``--kafka`` if given, else the data directory's embedded broker."""
    if settings.kafka:
        return settings.kafka
    if settings.kafka_config.get("bootstrap.servers"):
        return str(settings.kafka_config["bootstrap.servers"])
    from skysift.streams.embedded import find_running

    found = find_running(Path(settings.data_dir))
    if found is None:
        raise BrokerError(
            "no Kafka configured and the embedded broker is not running: "
            "start it with `skysift kafka up`, or give --kafka HOST:PORT",
            data_dir=str(settings.data_dir),
        )
    return found.bootstrap


def client_config(settings: Settings, **defaults: Any) -> dict[str, Any]:
    """librdkafka config: the user's pass-through keys, then ``defaults`` where not set."""
    conf = {k: v for k, v in settings.kafka_config.items()}
    conf.setdefault("bootstrap.servers", bootstrap_servers(settings))
    for key, value in defaults.items():
        conf.setdefault(key, value)
    return conf


def producer_config(settings: Settings) -> dict[str, Any]:
    return client_config(
        settings,
        **{
            "acks": "all",
            # topics are created by skysift, with their retention and size settings; a metadata
            # refresh must never bring back a topic that a rename or delete removed
            "allow.auto.create.topics": False,
            "enable.idempotence": False,
            "linger.ms": 20,
            "compression.type": "none",
            "message.max.bytes": settings.topic_max_message_bytes + 1024,
            "queue.buffering.max.kbytes": 1048576,
            "queue.buffering.max.messages": 1000000,
            "log_level": 3,
        },
    )


#: Prefetch room per alert of a batch (Rubin alerts: ~120 KB median, 300 KB with long histories).
PREFETCH_KB_PER_ALERT = 256
_PREFETCH_MIN_KB, _PREFETCH_MAX_KB = 16384, 2097151  # librdkafka's maximum


def prefetch_kbytes(batch_size: int) -> int:
    """librdkafka ``queued.max.messages.kbytes`` for consumers of batches of ``batch_size``.

    Examples
    --------
    >>> prefetch_kbytes(1000)
    256000
    """
    return max(_PREFETCH_MIN_KB, min(_PREFETCH_MAX_KB, batch_size * PREFETCH_KB_PER_ALERT))


def consumer_config(settings: Settings, group_id: str, from_beginning: bool = True) -> dict[str, Any]:
    return client_config(
        settings,
        **{
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "session.timeout.ms": settings.consumer_session_timeout_ms,
            "max.poll.interval.ms": max(300000, settings.consumer_session_timeout_ms),
            "fetch.message.max.bytes": settings.topic_max_message_bytes + 1024,
            # prefetch the next batch while this one is processed: room for batch_size alerts
            # of up to PREFETCH_KB_PER_ALERT each. With 32 MB the ingest worker waited for the
            # broker ~30% of its time (benchmarks/bench_pipeline.py); the default (64 MB) is
            # tuned for small messages
            "queued.max.messages.kbytes": prefetch_kbytes(settings.batch_size),
            "log_level": 3,
        },
    )


def admin(settings: Settings):
    """An AdminClient for the configured broker."""
    from confluent_kafka.admin import AdminClient

    conf = client_config(settings, log_level=3)
    return AdminClient(conf)
