"""Kafka client configuration, and the one place skysift's Kafka clients are made.

The user's librdkafka keys (``kafka_config`` setting) always win: skysift's defaults are applied
with ``setdefault``, as gcn-kafka does. Wrappers make no network call in ``__init__``.

:func:`make_producer`, :func:`make_consumer` and :func:`make_admin` give librdkafka's log to
Python logging (logger ``skysift.kafka``) with repeats folded: a broker that is away makes
librdkafka log a failed connect every few milliseconds, and an operator needs one line per
incident, not thousands. Their errors go to a :class:`BrokerWatch` when one is given, so the
batch loop knows that the connection had trouble (and checks its topics when it is back).
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from skysift.config import Settings
from skysift.errors import BrokerError
from skysift.streams.embedded import find_running
from skysift.streams.embedded import up

__all__ = [
    "KAFKA_LOG",
    "BrokerWatch",
    "FoldRepeats",
    "admin",
    "bootstrap_servers",
    "client_config",
    "close_shared",
    "consumer_config",
    "make_admin",
    "make_consumer",
    "make_producer",
    "prefetch_kbytes",
    "producer_config",
    "shared_admin",
    "shared_producer",
]

#: The logger librdkafka's messages go to.
KAFKA_LOG = logging.getLogger("skysift.kafka")


class FoldRepeats(logging.Filter):
    """Lets a message through once per ``window_s``; later repeats are counted, and the count is
    added to the next one let through. Messages are the same when they differ only in numbers,
    librdkafka's thread names and which broker connection (bootstrap, coordinator, node) spoke.

    >>> f = FoldRepeats(window_s=60)
    >>> rec = lambda m: logging.LogRecord("k", 30, "", 0, m, None, None)
    >>> [f.filter(rec(f"Connect to 127.0.0.1:{n} failed")) for n in (1, 2, 3)]
    [True, False, False]
    >>> [f.filter(rec(m)) for m in ("FAIL [rdkafka#consumer-7] [thrd:GroupCoordinator]: "
    ...     "GroupCoordinator: 127.0.0.1:4841: Connect to ipv4#127.0.0.1:4841 failed",
    ...     "FAIL [rdkafka#consumer-7] [thrd:127.0.0.1:4841/bootstrap]: 127.0.0.1:4841/bootstrap: "
    ...     "Connect to ipv4#127.0.0.1:4841 failed")]
    [True, False]
    """

    def __init__(self, window_s: float = 300.0) -> None:
        super().__init__()
        self.window_s = window_s
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = re.sub(r"[#\s:]+", "#", _FOLD.sub("#", record.getMessage()))
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.window_s:
                seen[1] += 1
                return False
            folded = int(seen[1]) if seen is not None else 0
            self._seen[key] = [now, 0]
            if len(self._seen) > 1000:
                self._seen.clear()
        if folded:
            record.msg = f"{record.getMessage()} ({folded} similar messages folded)"
            record.args = None
        return True


#: What is left out when comparing messages: thread names, "host:port/node:" and
#: "GroupCoordinator: host:port:" prefixes, and numbers.
_FOLD = re.compile(r"\[thrd:[^\]]*\]|GroupCoordinator:|\S+:\d+(/\S+)?:|\d+")

KAFKA_LOG.addFilter(FoldRepeats())


class BrokerWatch:
    """Errors librdkafka reports for a group of clients, as a counter the loop can compare.

    ``trouble`` grows by one at each error (a broker down, a transport failure); ``last_error``
    is the newest. The batch loop notes ``trouble`` after a good batch and, when it has grown,
    checks that its topics still exist (the embedded broker loses them in a restart).
    """

    def __init__(self) -> None:
        self.trouble = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    def on_error(self, err: Any) -> None:
        self.trouble += 1
        self.last_error = err.str() if hasattr(err, "str") else str(err)
        self.last_error_at = time.time()
        # librdkafka logs the connection failures itself; say only what it does not
        transport = hasattr(err, "name") and err.name() == "_TRANSPORT"
        KAFKA_LOG.log(logging.DEBUG if transport else logging.WARNING, "Kafka: %s",
                      self.last_error)


#: Set while the command line runs (skysift.cli.main): with no Kafka configured and the data
#: directory's embedded broker stopped, commands start it instead of failing, and say so.
AUTOSTART_EMBEDDED = False


def bootstrap_servers(settings: Settings) -> str:
    """The broker to talk to: ``--kafka`` if given, else the data directory's embedded broker
    (started here when the command line runs and it is not running)."""
    if settings.kafka:
        return settings.kafka
    if settings.kafka_config.get("bootstrap.servers"):
        return str(settings.kafka_config["bootstrap.servers"])

    found = find_running(Path(settings.data_dir))
    if found is None and AUTOSTART_EMBEDDED:
        info = up(Path(settings.data_dir), settings.embedded_kafka_port)
        logging.getLogger("skysift").warning(
            "started the embedded Kafka broker at %s for %s (it keeps everything in memory: topics "
            "and records from before it last stopped are gone; `skysift kafka down` stops it)",
            info.bootstrap, settings.data_dir)
        return info.bootstrap
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


def consumer_config(
    settings: Settings, group_id: str, from_beginning: bool = True
) -> dict[str, Any]:
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
            # notice a subscribed topic that came back (a broker restarted empty, then the
            # topic was produced to again) within seconds rather than librdkafka's 5 minutes
            "topic.metadata.refresh.interval.ms": 10000,
            "log_level": 3,
        },
    )


def admin(settings: Settings):
    """An AdminClient for the configured broker (:func:`make_admin`)."""
    return make_admin(settings)


def _hooks(conf: dict[str, Any], watch: BrokerWatch | None) -> dict[str, Any]:
    conf.setdefault("logger", KAFKA_LOG)
    if watch is not None:
        conf.setdefault("error_cb", watch.on_error)
    return conf


def make_producer(settings: Settings, *, watch: BrokerWatch | None = None, **overrides: Any):
    """A confluent_kafka.Producer with skysift's defaults (``overrides`` win over them)."""
    from confluent_kafka import Producer

    conf = producer_config(settings)
    conf.update(overrides)
    return Producer(_hooks(conf, watch))


def make_consumer(settings: Settings, group_id: str, *, watch: BrokerWatch | None = None,
                  **overrides: Any):
    """A confluent_kafka.Consumer in ``group_id`` with skysift's defaults."""
    from confluent_kafka import Consumer

    conf = consumer_config(settings, group_id)
    conf.update(overrides)
    return Consumer(_hooks(conf, watch))


def make_admin(settings: Settings):
    """An AdminClient for the configured broker (its log folded like the others')."""
    from confluent_kafka.admin import AdminClient

    return AdminClient(_hooks(client_config(settings, log_level=3), None))


_shared: dict[tuple[str, str], Any] = {}
_shared_lock = threading.Lock()


def _shared_client(kind: str, settings: Settings, make: Any) -> Any:
    key = (kind, repr(sorted((k, repr(v)) for k, v in client_config(settings).items())))
    with _shared_lock:
        client = _shared.get(key)
        if client is None:
            client = _shared[key] = make(settings)
    return client


def shared_producer(settings: Settings) -> Any:
    """The process's producer for occasional records (topic seeding, annotation triggers in the
    web app): one per Kafka configuration, made on first use, flushed by :func:`close_shared`."""
    return _shared_client("producer", settings, make_producer)


def shared_admin(settings: Settings) -> Any:
    """The process's AdminClient for this Kafka configuration (made on first use)."""
    return _shared_client("admin", settings, make_admin)


def close_shared(timeout: float = 10.0) -> None:
    """Deliver what the shared producers hold and let every shared client go (at exit, and in
    tests before their broker stops)."""
    with _shared_lock:
        clients = list(_shared.items())
        _shared.clear()
    for (kind, _), client in clients:
        if kind == "producer":
            client.flush(timeout)


atexit.register(close_shared)
