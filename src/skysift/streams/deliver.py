"""Turning a filter's result rows into Kafka records, and sending them.

Used by the batch pipeline (light curves from the arriving alerts) and by topic seeding on
create/edit (light curves from the store). Each record's Kafka key is the diaObjectId (decimal
text); headers say why it was produced (``reason``: alert | reset | annotation), which filter,
and, for alert-triggered records, the diaSourceId of the triggering detection, so consumers can
recognise a record they have seen before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from skysift.streams.output import RecordSink
from skysift.streams.records import HIDDEN_KEY, encode_record, full_block, lite_block, make_record

__all__ = ["KAFKA_OUTPUTS", "LightCurve", "build_record", "deliver_rows", "row_object_id"]

KAFKA_OUTPUTS = ("plain", "lite", "full")


@dataclass(frozen=True)
class LightCurve:
    """What lite and full records need of an object."""

    dia_object: Mapping[str, Any] | None
    sources: Sequence[Mapping[str, Any]]
    forced: Sequence[Mapping[str, Any]]
    dia_source_id: int | None = None  # the triggering detection, when there is one


def row_object_id(row: Mapping[str, Any]) -> int | None:
    """The diaObjectId of a result row (selected, or the hidden key column)."""
    value = row.get(HIDDEN_KEY, row.get("diaObjectId"))
    return int(value) if value is not None else None


def build_record(row: Mapping[str, Any], output: str, utc: str,
                 lightcurve: LightCurve | None) -> dict:
    """One record in the filter's output format."""
    alert: dict[str, Any] | None
    if output == "plain" or lightcurve is None:
        alert = None if output == "plain" else {"diaSourcesList": [], "diaForcedSourcesList": []}
    elif output == "lite":
        alert = lite_block(lightcurve.sources, lightcurve.forced)
    else:
        alert = full_block(lightcurve.dia_object, lightcurve.sources, lightcurve.forced)
    return make_record(row, utc, alert)


def deliver_rows(sink: RecordSink, *, topic: str, filter_name: str, output: str, quota: int,
                 rows: Sequence[Mapping[str, Any]], utc: str, reason: str,
                 lightcurve_for: Callable[[int], LightCurve | None]) -> tuple[int, int]:
    """Build and send the records of ``rows``; returns (produced, rejected)."""
    produced = rejected = 0
    for row in rows:
        oid = row_object_id(row)
        lc = lightcurve_for(oid) if oid is not None else None
        record = build_record(row, output, utc, lc)
        headers = [("reason", reason.encode()), ("filter", filter_name.encode())]
        if lc is not None and lc.dia_source_id is not None:
            headers.append(("diaSourceId", str(lc.dia_source_id).encode()))
        key = str(oid).encode() if oid is not None else None
        if sink.send(topic, key, encode_record(record), quota=quota, headers=headers):
            produced += 1
        else:
            rejected += 1
    return produced, rejected
