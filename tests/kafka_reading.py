"""Reading a topic from the beginning with a real consumer (shared by the tests; a module of its own
name, so any set of test folders can import it).

The reader assigns itself every partition of the topic (no consumer-group join, which costs
seconds per read on the embedded broker) and reads from the beginning. With ``expect`` it stops
at that many messages; otherwise when every partition has reached its end and nothing more has
come for ``min(idle_s, SETTLE_S)`` seconds (records are produced and flushed before the tests
read, so the end of the partitions is the end of what there is).
"""

from __future__ import annotations

import time
import uuid

#: After every partition reached its end, wait this long for stragglers (at most idle_s).
SETTLE_S = 0.5


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _partitions(consumer, topic: str, deadline: float) -> list[int]:
    """The topic's partitions, waiting (until ``deadline``) for a topic not made yet."""
    while True:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is not None and meta.error is None and meta.partitions:
            return sorted(meta.partitions)
        if time.monotonic() > deadline:
            return []
        time.sleep(0.2)


def read_topic(bootstrap: str, topic: str, *, expect: int | None = None, idle_s: float = 4.0,
               max_wait_s: float = 40.0) -> list:
    """Every message of ``topic`` from the beginning (a real consumer, assigned every
    partition)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("read"),
                  "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 0})
    start = time.monotonic()
    out: list = []
    try:
        parts = _partitions(c, topic, start + (max_wait_s if expect else min(idle_s, max_wait_s)))
        if not parts:
            return out
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        at_end: set[int] = set()
        last = time.monotonic()
        settle = min(idle_s, SETTLE_S)
        while time.monotonic() - start < max_wait_s:
            if expect is not None and len(out) >= expect:
                break
            m = c.poll(0.2)
            if m is None:
                if expect is None and len(at_end) == len(parts) and \
                        time.monotonic() - last > settle:
                    break
                continue
            if m.error():
                code = m.error().code()
                if code == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                    continue
                if code == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue
                raise AssertionError(m.error().str())
            at_end.discard(m.partition())
            last = time.monotonic()
            out.append(m)
    finally:
        c.close()
    return out
