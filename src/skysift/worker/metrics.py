"""Prometheus metrics of the batch loops (prometheus-client), for the operator's dashboards.

Served by ``skysift ingest --from-kafka``, ``skysift annotations ingest`` and ``skysift serve``
on ``metrics_host:metrics_port`` when ``metrics_port`` is set (docs/operations.md lists every
metric). Every metric has the label ``loop`` ("alerts" or "annotations").

- ``skysift_messages_total{loop,outcome}``: messages (alerts) by outcome: ``ingested``,
  ``undecodable`` (not an alert), ``refused`` (an impossible value), ``poison`` (processing failed
  with this alert alone);
- ``skysift_records_total{loop,outcome}``: output records ``produced`` / ``rejected`` (quota, size);
- ``skysift_values_nulled_total{loop}``: values stored as NULL with a warning;
- ``skysift_batches_total{loop}`` and ``skysift_batch_failures_total{loop,kind}`` (``transient``,
  ``missing_topics``, ``content``);
- ``skysift_batch_stage_seconds{loop,stage}``: a summary per stage (consume, decode, store,
  filters, records, flush, bookkeeping, dead_letters, commit);
- ``skysift_consumer_lag{loop,topic,partition}``: messages behind the partition's end;
- ``skysift_worker_retrying{loop}``: 1 while an incident is open (the store or broker away);
- ``skysift_worker_restarts_total{loop}``: restarts by ``skysift serve``'s supervisor;
- ``skysift_last_batch_timestamp_seconds{loop}``, ``skysift_last_error_timestamp_seconds{loop}``
  and ``skysift_last_error_info{loop,error}``.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Info, Summary

__all__ = ["LoopMetrics", "serve_metrics"]

_lock = threading.Lock()
_metrics: dict[int, dict[str, Any]] = {}


def _family(registry: CollectorRegistry) -> dict[str, Any]:
    """The metric objects of one registry (made once: prometheus-client refuses duplicates)."""
    with _lock:
        found = _metrics.get(id(registry))
        if found is not None:
            return found
        loop = ["loop"]
        made = {
            "messages": Counter("skysift_messages", "Input messages by outcome",
                                [*loop, "outcome"], registry=registry),
            "records": Counter("skysift_records", "Output records by outcome",
                               [*loop, "outcome"], registry=registry),
            "nulled": Counter("skysift_values_nulled", "Values stored as NULL with a warning",
                              loop, registry=registry),
            "batches": Counter("skysift_batches", "Batches done", loop, registry=registry),
            "failures": Counter("skysift_batch_failures", "Failed batch attempts by kind",
                                [*loop, "kind"], registry=registry),
            "stage": Summary("skysift_batch_stage_seconds", "Seconds per batch stage",
                             [*loop, "stage"], registry=registry),
            "lag": Gauge("skysift_consumer_lag", "Messages behind the end of the partition",
                         [*loop, "topic", "partition"], registry=registry),
            "retrying": Gauge("skysift_worker_retrying",
                              "1 while the store or the broker is away and a batch waits",
                              loop, registry=registry),
            "restarts": Counter("skysift_worker_restarts", "Restarts by the supervisor", loop,
                                registry=registry),
            "last_batch": Gauge("skysift_last_batch_timestamp_seconds",
                                "Unix time of the last batch done", loop, registry=registry),
            "last_error_at": Gauge("skysift_last_error_timestamp_seconds",
                                   "Unix time of the last error", loop, registry=registry),
            "last_error": Info("skysift_last_error", "The last error", loop,
                               registry=registry),
        }
        _metrics[id(registry)] = made
        return made


class LoopMetrics:
    """The metrics of one loop (``name``: "alerts" or "annotations")."""

    def __init__(self, name: str, registry: CollectorRegistry = REGISTRY) -> None:
        self.name = name
        self._m = _family(registry)

    def messages(self, outcome: str, n: int = 1) -> None:
        if n:
            self._m["messages"].labels(self.name, outcome).inc(n)

    def records(self, produced: int, rejected: int) -> None:
        if produced:
            self._m["records"].labels(self.name, "produced").inc(produced)
        if rejected:
            self._m["records"].labels(self.name, "rejected").inc(rejected)

    def nulled(self, n: int) -> None:
        if n:
            self._m["nulled"].labels(self.name).inc(n)

    def batch(self, seconds: dict[str, float], when: float) -> None:
        self._m["batches"].labels(self.name).inc()
        for stage, value in seconds.items():
            self._m["stage"].labels(self.name, stage).observe(value)
        self._m["last_batch"].labels(self.name).set(when)

    def failures(self, counts: dict[str, int]) -> None:
        for kind, n in counts.items():
            self._m["failures"].labels(self.name, kind).inc(n)

    def lag(self, topic: str, partition: int, behind: int) -> None:
        self._m["lag"].labels(self.name, topic, str(partition)).set(behind)

    def retrying(self, is_open: bool) -> None:
        self._m["retrying"].labels(self.name).set(1 if is_open else 0)

    def restarted(self) -> None:
        self._m["restarts"].labels(self.name).inc()

    def error(self, text: str, when: float) -> None:
        self._m["last_error_at"].labels(self.name).set(when)
        self._m["last_error"].labels(self.name).info({"error": text[:500]})


def serve_metrics(host: str, port: int) -> Any:
    """Serve the default registry over HTTP on ``host:port`` (a daemon thread); the server."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host)
    return server
