"""``echo``: re-listen to the last N days of every partition, committing nothing.

The start of each partition comes from ``offsets_for_times``; messages older than the cut-off are
still skipped by their timestamp, because some brokers (the embedded one) answer with the earliest
offset whatever the time asked. Reading stops at the end offsets seen when echo started.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import Any

from skysift.errors import GcnError
from skysift.gcn.connection import consumer_config, make_consumer
from skysift.gcn.listen import handle_message
from skysift.gcn.pipeline import AlertProcessor
from skysift.gcn.settings import GcnSettings

__all__ = ["echo"]

log = logging.getLogger("skysift.gcn")


def echo(settings: GcnSettings, days: float, *, processor: AlertProcessor | None = None,
         progress: bool | None = None, idle_timeout: float = 20.0) -> Counter:
    """Process every notice of the last ``days`` days; returns counts by outcome status."""
    from confluent_kafka import TopicPartition
    from tqdm import tqdm

    if days <= 0:
        raise GcnError(f"echo needs a positive number of days, not {days}")
    processor = processor or AlertProcessor(settings)
    cutoff_ms = int((time.time() - days * 86400.0) * 1000)
    consumer = make_consumer(settings, consumer_config(settings, None))
    counts: Counter = Counter()
    try:
        meta = consumer.list_topics(settings.topic, timeout=15)
        tmeta = meta.topics.get(settings.topic)
        if tmeta is None or tmeta.error is not None or not tmeta.partitions:
            raise GcnError("topic not found or empty", topic=settings.topic)
        parts = sorted(tmeta.partitions)
        starts = consumer.offsets_for_times(
            [TopicPartition(settings.topic, p, cutoff_ms) for p in parts], timeout=15
        )
        ends: dict[int, int] = {}
        assign = []
        for tp in starts:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(settings.topic, tp.partition), timeout=15
            )
            start = tp.offset if tp.offset >= 0 else high
            if start < high:
                ends[tp.partition] = high
                assign.append(TopicPartition(settings.topic, tp.partition, start))
        total = sum(ends[tp.partition] - tp.offset for tp in assign)
        log.info("echo: %d message(s) at most in %d partition(s) since %s", total, len(assign),
                 time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(cutoff_ms / 1000)))
        if not assign:
            return counts
        consumer.assign(assign)
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=total, unit="msg", desc="echo", disable=not show, file=sys.stderr)
        last = time.monotonic()
        while ends:
            msg = consumer.poll(1.0)
            if msg is None:
                if time.monotonic() - last > idle_timeout:
                    log.warning("echo: no message for %.0f s; stopping before the end of %s",
                                idle_timeout, sorted(ends))
                    break
                continue
            last = time.monotonic()
            if msg.error():
                log.warning("Kafka: %s", msg.error())
                continue
            part, off = msg.partition(), msg.offset()
            bar.update(1)
            if part in ends and off >= ends[part] - 1:
                del ends[part]
            _kind, ts = msg.timestamp()
            if ts > 0 and ts < cutoff_ms:
                counts["older"] += 1
                continue
            where: dict[str, Any] = {"topic": msg.topic(), "partition": part, "offset": off}
            try:
                outcome = handle_message(processor, msg.value() or b"", where)
                counts[outcome.status] += 1
            except Exception as exc:  # one bad message never aborts the echo
                log.error("echo: failed at %s: %s", where, exc)
                counts["rejected"] += 1
        bar.close()
    finally:
        consumer.close()
    return counts
