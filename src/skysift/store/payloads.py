"""JSON text of stored records (source payloads, the kept diaObject).

A source's ``payload`` holds only what its columns do not (:func:`payload_beside` and
:func:`record_from`): the columns are written anyway, and most history items are the kept fields
of :data:`skysift.alerts.project.HISTORY_FIELDS`, all columns but one, so a payload of every field
doubled the bytes written for them (the store after a first night is 2.0-2.1x smaller without
the copies). A payload that holds the record's id is the whole record (rows written before, or
records whose columns cannot stand for their values); one without the id is joined to the
columns when read.

orjson when it is installed (about 15 times faster than the standard library on Rubin's ~100-field
records, which matters when an alert brings a long history); the standard library otherwise. Both
write compact JSON with NaN as ``null`` (standard JSON has no NaN), so stored text is valid JSON
for any consumer and reads back identically whichever library wrote it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

__all__ = ["FAST_JSON", "dumps_record", "loads_record", "payload_beside", "record_from"]

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the installation
    orjson = None  # type: ignore[assignment]

FAST_JSON = orjson is not None


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value


def dumps_record(record: Mapping[str, Any] | Sequence[Any]) -> str:
    """Compact JSON of ``record``; NaN (and infinities, with orjson) become ``null``.

    Examples
    --------
    >>> dumps_record({"diaSourceId": 2**62 + 1, "psfFlux": float("nan"), "band": "g"})
    '{"diaSourceId":4611686018427387905,"psfFlux":null,"band":"g"}'
    """
    if orjson is not None:
        return orjson.dumps(record).decode()
    return json.dumps(_nan_to_none(dict(record)), separators=(",", ":"))


def loads_record(text: str | bytes) -> Any:
    """Parse JSON written by :func:`dumps_record`."""
    if orjson is not None:
        return orjson.loads(text)
    return json.loads(text)


_ABSENT = object()


def payload_beside(record: Mapping[str, Any], names: Sequence[str], values: Sequence[Any]) -> str:
    """The ``payload`` text of ``record`` stored in a row whose columns ``names`` hold ``values``.

    A field is left out when its column holds the very value sent (the same object: the row is
    built from the record; NaN stored as NULL counts, since JSON writes NaN as null anyway). A
    value the column holds otherwise (cleaned to NULL, converted, or a float zero, whose sign
    SQLite does not keep) stays in the payload. The whole record is written when the id
    (``names[0]``) is not its column's very value or a column's field is absent from the record,
    so :func:`record_from` gives back the fields and values :func:`dumps_record` would have kept
    (the columns' fields first, then the payload's, in the record's order).

    Examples
    --------
    >>> names = ("diaSourceId", "band", "psfFlux")
    >>> rec = {"diaSourceId": 7, "band": "g", "psfFlux": float("nan"), "ssObjectId": None}
    >>> payload_beside(rec, names, (rec["diaSourceId"], rec["band"], None))
    '{"ssObjectId":null}'
    >>> payload_beside({**rec, "psfFlux": 1e20}, names, (7, "g", None))  # cleaned: kept
    '{"ssObjectId":null,"psfFlux":1e+20}'
    >>> payload_beside({"diaSourceId": "7", "band": "g", "psfFlux": 1.0}, names, (7, "g", 1.0))
    '{"diaSourceId":"7","band":"g","psfFlux":1.0}'
    """
    extra = dict(record)
    for name, value in zip(names, values, strict=True):
        raw = extra.pop(name, _ABSENT)
        if raw is value:
            if type(raw) is not float or raw != 0.0:
                continue
        elif value is None and type(raw) is float and raw != raw:
            continue
        if raw is _ABSENT or name == names[0]:
            return dumps_record(record)
        extra[name] = raw
    return dumps_record(extra)


def record_from(names: Sequence[str], values: Sequence[Any], payload: str | bytes
                ) -> dict[str, Any]:
    """The record a row holds: its columns ``names`` (holding ``values``) joined to its payload,
    or the payload alone when it holds the id (``names[0]``); see :func:`payload_beside`. The
    columns' fields come first (the id, the time, the band, the flux...), then the payload's.

    Examples
    --------
    >>> names = ("diaSourceId", "band", "psfFlux")
    >>> record_from(names, (7, "g", None), '{"ssObjectId":null,"psfFlux":1e+20}')
    {'diaSourceId': 7, 'band': 'g', 'psfFlux': 1e+20, 'ssObjectId': None}
    >>> record_from(names, (7, "g", 1.0), '{"diaSourceId":"7","band":"g","psfFlux":1.0}')
    {'diaSourceId': '7', 'band': 'g', 'psfFlux': 1.0}
    """
    extra = loads_record(payload)
    if names[0] in extra:
        return cast(dict[str, Any], extra)
    record = dict(zip(names, values, strict=True))
    record.update(extra)
    return record
