"""Publish alert files to a Kafka topic in Rubin's framing, as the survey would.

Files already in framing are sent byte for byte. Records of Avro container files and JSON files
are re-encoded with the official schema of the version named by their writer schema
(``lsst.vX_Y.alert``), else of the newest shipped version they fit (v9 data fits 9.0 only, since
10.0 renamed ``MPCORB``). The key is the diaSourceId as decimal ASCII (``b"169298432598474793"``),
unique per alert, so consumers can de-duplicate; Rubin's own stream partitions by no key.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from skysift.alerts.decode import split_frame
from skysift.alerts.encode import encode_wire
from skysift.alerts.files import detect_form, iter_alert_files, iter_file_records, read_file_bytes
from skysift.alerts.model import AlertOrigin
from skysift.alerts.ocf import _read_long
from skysift.alerts.schemas import (
    newest_fitting_version,
    schema_definition,
    version_from_name,
    version_of_id,
)
from skysift.errors import AlertDecodeError, DeliveryError, UnknownSchemaError

__all__ = ["publish_files"]

log = logging.getLogger(__name__)


def _leading_id(value: bytes, origin: AlertOrigin) -> int:
    """The diaSourceId of a framed alert without decoding it: the schema's first field.

    Every shipped alert schema starts with a long id (``alertId`` before 8.0, then
    ``diaSourceId``), so the id is the first zig-zag varint of the body.
    """
    sid, body = split_frame(value, origin)
    major, minor = version_of_id(sid)
    try:
        first = schema_definition(major, minor)["fields"][0]
    except UnknownSchemaError as exc:
        raise UnknownSchemaError(exc.message, schema_id=sid, **origin.as_where()) from exc
    if first["name"] not in ("diaSourceId", "alertId") or first["type"] != "long":
        raise AlertDecodeError(
            f"schema {major}.{minor} does not start with an id", **origin.as_where()
        )
    try:
        return _read_long(body, 0)[0]
    except (EOFError, ValueError) as exc:
        raise AlertDecodeError(f"truncated message: {exc}", **origin.as_where()) from exc


def _reencoded(record: dict[str, Any], label: str, hint: tuple[int, int] | None
               ) -> tuple[bytes, int, tuple[int, int]]:
    version = version_from_name(f"lsst.v{label.replace('.', '_')}") if label[:1].isdigit() else None
    fits = newest_fitting_version(record, hint=version or hint)
    if fits is None:
        raise AlertDecodeError("record fits no shipped Rubin schema version")
    key = record.get("diaSourceId", record.get("alertId"))
    if not isinstance(key, int):
        source = record.get("diaSource") or {}
        key = source.get("diaSourceId")
    return encode_wire(record, *fits), int(key or 0), fits


class _Pacer:
    """Sleeps so that no more than ``rate`` sends happen per second on average."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.interval = 1.0 / rate if rate else 0.0
        self.start = time.monotonic()
        self.sent = 0

    def wait(self) -> None:
        if self.interval:
            delay = self.start + self.sent * self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.sent += 1


def publish_files(
    producer: Any,
    topic: str,
    paths: Iterable[str | Path],
    rate: float | None = None,
    progress: bool = True,
) -> int:
    """Produce every alert in ``paths`` to ``topic`` in Rubin's framing.

    Parameters
    ----------
    producer
        A configured :class:`confluent_kafka.Producer`; flushed before returning.
    topic
        The topic to produce to.
    paths
        Files and directories (expanded by :func:`skysift.alerts.files.iter_alert_files`).
    rate
        At most this many alerts per second (None: as fast as possible).
    progress
        Show a tqdm progress bar (alerts sent) on stderr.

    Returns
    -------
    int
        How many alerts were delivered. Records that cannot be read or re-encoded are skipped
        with a warning in the log.

    Raises
    ------
    DeliveryError
        Kafka refused a record, or not all were delivered at the flush.
    """
    from confluent_kafka import KafkaException
    from tqdm import tqdm

    pacer = _Pacer(rate)
    failures: list[str] = []
    delivered = 0

    def on_delivery(err: Any, msg: Any) -> None:
        nonlocal delivered
        if err is not None:
            failures.append(str(err))
        else:
            delivered += 1

    def send(value: bytes, key: int) -> None:
        pacer.wait()
        while True:
            try:
                producer.produce(topic, value=value, key=str(key).encode("ascii"),
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.5)
            except KafkaException as exc:
                raise DeliveryError(f"cannot produce to {topic}: {exc}", topic=topic) from exc
        producer.poll(0)
        bar.update(1)

    with tqdm(unit="alert", disable=not progress, desc=f"-> {topic}") as bar:
        for path in iter_alert_files(paths):
            data = read_file_bytes(path)
            if isinstance(data, AlertDecodeError):
                log.warning("skipped: %s", data)
                continue
            form = detect_form(data)
            if form == "wire":
                try:
                    send(data, _leading_id(data, AlertOrigin(path=str(path))))
                except AlertDecodeError as exc:
                    log.warning("skipped: %s", exc)
                continue
            if form is None:
                log.warning("skipped %s: unrecognised content", path)
                continue
            hint: tuple[int, int] | None = None
            for item in iter_file_records(path, data, form):
                if isinstance(item, AlertDecodeError):
                    log.warning("skipped: %s", item)
                    continue
                record, label, origin = item
                try:
                    value, key, hint = _reencoded(record, label, hint)
                except AlertDecodeError as exc:
                    log.warning("skipped %s: %s", origin.describe(), exc.message)
                    continue
                send(value, key)
        remaining = producer.flush(30)
    if failures:
        raise DeliveryError(
            f"{len(failures)} alerts not delivered to {topic}: {failures[0]}", topic=topic
        )
    if remaining:
        raise DeliveryError(f"{remaining} alerts still queued for {topic} after 30 s", topic=topic)
    return delivered
