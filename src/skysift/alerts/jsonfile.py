"""JSON alerts: one object per file, an array of objects, or JSON Lines (one object a line).

Field names are the alert's (any shipped version). Python's json keeps integers exact, so 64-bit
ids survive; ids written as digit strings are accepted by the normaliser too. Cutouts, if present
(base64 text or null), are ignored.
"""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Iterator

from skysift.alerts.model import AlertOrigin
from skysift.alerts.schemas import infer_version
from skysift.errors import AlertDecodeError

__all__ = ["JsonRecord", "iter_json_records"]

_TOO_DEEP = "not valid JSON for an alert: nested too deeply to read"

#: One JSON alert: the raw dict, its version label, where it came from.
JsonRecord = tuple[dict[str, Any], str, AlertOrigin]


def _label(record: dict[str, Any]) -> str:
    version = infer_version(record)
    return f"{version[0]}.{version[1]}" if version else "json"


def _one(value: Any, origin: AlertOrigin) -> JsonRecord | AlertDecodeError:
    if not isinstance(value, dict):
        return AlertDecodeError(
            f"not an alert: a JSON {type(value).__name__} where an object was expected",
            **origin.as_where(),
        )
    return value, _label(value), origin


def iter_json_records(
    data: bytes, path: str, *, lines: bool = False
) -> Iterator[JsonRecord | AlertDecodeError]:
    """Every alert object in a JSON or JSON Lines document, or an error in its place.

    Parameters
    ----------
    data
        The file's bytes (UTF-8, a BOM is allowed).
    path
        For origins and errors.
    lines
        Read as JSON Lines from the start (``.jsonl``/``.ndjson``). Otherwise the whole document
        is parsed, and read as JSON Lines only if it holds more than one value.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield AlertDecodeError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", path=path)
        return
    if not lines:
        try:
            document = json.loads(text)
        except RecursionError:
            yield AlertDecodeError(_TOO_DEEP, path=path)
            return
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                yield AlertDecodeError(
                    f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                    path=path,
                )
                return
        else:
            if isinstance(document, list):
                for i, value in enumerate(document):
                    yield _one(value, AlertOrigin(path=path, index=i))
            else:
                yield _one(document, AlertOrigin(path=path))
            return
    index = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        origin = AlertOrigin(path=path, index=index)
        index += 1
        try:
            value = json.loads(line)
        except RecursionError:
            yield AlertDecodeError(_TOO_DEEP, **origin.as_where())
            continue
        except json.JSONDecodeError as exc:
            yield AlertDecodeError(
                f"not valid JSON on line {lineno}: {exc.msg} at column {exc.colno}",
                **origin.as_where(),
            )
            continue
        yield _one(value, origin)
