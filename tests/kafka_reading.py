"""Reading a topic from the beginning with a real consumer (shared by the tests; a module of its own
name, so any set of test folders can import it)."""

from __future__ import annotations

import time
import uuid


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def read_topic(bootstrap: str, topic: str, *, expect: int | None = None, idle_s: float = 4.0,
               max_wait_s: float = 40.0) -> list:
    """Every message of ``topic`` from the beginning, with a fresh group (real consumer)."""
    from confluent_kafka import Consumer, KafkaError

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("read"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000, "log_level": 0})
    c.subscribe([topic])
    out = []
    start = last = time.monotonic()
    got_assignment = False
    while time.monotonic() - start < max_wait_s:
        if expect is not None and len(out) >= expect:
            break
        m = c.poll(0.5)
        if c.assignment():
            if not got_assignment:
                got_assignment = True
                last = time.monotonic()
        if m is None:
            if got_assignment and time.monotonic() - last > idle_s:
                break
            continue
        if m.error():
            if m.error().code() not in (KafkaError._PARTITION_EOF,
                                        KafkaError.UNKNOWN_TOPIC_OR_PART):
                raise AssertionError(m.error().str())
            continue
        last = time.monotonic()
        out.append(m)
    c.close()
    return out
