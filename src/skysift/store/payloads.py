"""JSON text of stored records (source payloads, the kept diaObject).

orjson when it is installed (about 15 times faster than the standard library on Rubin's ~100-field
records, which matters when an alert brings a long history); the standard library otherwise. Both
write compact JSON with NaN as ``null`` (standard JSON has no NaN), so stored text is valid JSON
for any consumer and reads back identically whichever library wrote it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["FAST_JSON", "dumps_record", "loads_record"]

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
