"""Arguments of an API call, wherever they come from, parsed with clear 400 messages.

Lasair accepts arguments in the query string (GET), or in a form or a JSON object (POST); so do
we. The query string is read first and the body's values win. Bodies are limited to
:data:`MAX_BODY_BYTES`. Every parser raises :class:`~skysift.errors.BadInput` (400)
naming the argument: a malformed number, an out-of-range value or an oversize text never reaches
the database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from skysift.web.httperrors import BadInput

__all__ = ["MAX_BODY_BYTES", "Params", "openapi_params", "read_params"]

MAX_BODY_BYTES = 1 << 20
#: The largest upload body (a watchlist of 1,000,000 cones as text is about 40 MB).
MAX_UPLOAD_BYTES = 96 << 20
_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n", ""}
_MISSING = object()


class Params:
    """The merged arguments of one call, with typed getters."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def _get(self, name: str, required: bool) -> Any:
        value = self.values.get(name)
        if value is None:
            if required:
                raise BadInput(f"{name} is required", field=name)
            return _MISSING
        return value

    def text(self, name: str, *, max_len: int, required: bool = True, default: str = "",
             allow_blank: bool = False) -> str:
        """A string of at most ``max_len`` characters."""
        value = self._get(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise BadInput(f"{name} must be text", field=name)
        if len(value) > max_len:
            raise BadInput(f"{name} is longer than {max_len} characters", field=name)
        if "\x00" in value:
            raise BadInput(f"{name} contains a NUL character", field=name)
        if not allow_blank and not value.strip():
            raise BadInput(f"{name} may not be blank", field=name)
        return value

    def number(self, name: str, *, lo: float | None = None, hi: float | None = None,
               required: bool = True, default: float | None = None) -> float:
        """A finite number in [lo, hi]."""
        value = self._get(name, required)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        if isinstance(value, bool):
            raise BadInput(f"{name} must be a number", field=name)
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            raise BadInput(f"{name} must be a number, not {_show(value)}", field=name) from None
        if not math.isfinite(number):
            raise BadInput(f"{name} must be a finite number", field=name)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise BadInput(f"{name} must be between {lo:g} and {hi:g}", field=name)
        return number

    def integer(self, name: str, *, lo: int | None = None, hi: int | None = None,
                required: bool = True, default: int | None = None) -> int:
        """A whole number in [lo, hi] (decimal digits, an optional sign)."""
        value = self._get(name, required)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise BadInput(f"{name} must be a whole number", field=name)
        text = value.strip() if isinstance(value, str) else str(value)
        digits = text[1:] if text[:1] in "+-" else text
        if not digits.isascii() or not digits.isdigit() or len(digits) > 30:
            raise BadInput(f"{name} must be a whole number, not {_show(value)}", field=name)
        number = int(text)
        if lo is not None and number < lo:
            raise BadInput(f"{name} must be at least {lo}", field=name)
        if hi is not None and number > hi:
            raise BadInput(f"{name} must be at most {hi}", field=name)
        return number

    def boolean(self, name: str, *, default: bool) -> bool:
        """true/false, 1/0, yes/no, on/off (any case), or a JSON boolean."""
        value = self._get(name, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise BadInput(f"{name} must be true or false, not {_show(value)}", field=name)

    def choice(self, name: str, choices: Iterable[str], *, default: str | None = None) -> str:
        """One of ``choices``."""
        allowed = tuple(choices)
        value = self._get(name, default is None)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        if not isinstance(value, str) or value not in allowed:
            raise BadInput(f"{name} must be one of {', '.join(allowed)}", field=name)
        return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


async def _body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadInput(f"the request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadInput(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_params(request: Request) -> Params:
    """The call's arguments: query string, then the form or JSON body on top (a dependency)."""
    return await _read_params(request, MAX_BODY_BYTES)


async def read_upload_params(request: Request) -> Params:
    """:func:`read_params` for uploads (a watchlist of a million cones): bodies up to
    :data:`MAX_UPLOAD_BYTES`."""
    return await _read_params(request, MAX_UPLOAD_BYTES)


async def _read_params(request: Request, limit: int) -> Params:
    values: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "token"}
    if request.method in ("POST", "PUT", "PATCH"):
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":
            if request.headers.get("content-length") is None:
                raise BadInput("a multipart body needs a Content-Length")
            declared = request.headers["content-length"]
            if not declared.isdigit() or int(declared) > limit:
                raise BadInput(f"the request body is larger than {limit} bytes")
            # the server holds the body to its Content-Length
            form = await request.form(max_part_size=limit)
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
            if limit > MAX_BODY_BYTES:  # an upload: files become {"filename", "data"}
                for k, v in form.items():
                    if not isinstance(v, str):
                        values[k] = {"filename": v.filename or k, "data": await v.read()}
        else:
            raw = await _body(request, limit)
            if ctype == "application/json" or (not ctype and raw.lstrip()[:1] == b"{"):
                try:
                    data = json.loads(raw or b"{}")
                except (ValueError, RecursionError):
                    raise BadInput("the body is not valid JSON") from None
                if not isinstance(data, dict):
                    raise BadInput("the JSON body must be an object")
                values.update(data)
            elif raw:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise BadInput("the body is not UTF-8") from None
                values.update(parse_qsl(text, keep_blank_values=True))
    return Params(values)


def openapi_params(*specs: tuple[str, str, str, bool], body: bool = False) -> dict[str, Any]:
    """``openapi_extra`` documenting arguments (name, JSON type, description, required): as query
    parameters (GET), or also as form or JSON bodies (``body=True``, POST), so /docs shows them
    and can try them."""
    props = {name: {"type": typ, "description": desc} for name, typ, desc, _ in specs}
    required = [name for name, _, _, req in specs if req]
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    query = {"parameters": [{"name": name, "in": "query", "required": req and not body,
                             "description": desc, "schema": {"type": typ}}
                            for name, typ, desc, req in specs]}
    if not body:
        return query
    return {
        **query,
        "requestBody": {"required": False, "content": {
            "application/x-www-form-urlencoded": {"schema": schema},
            "application/json": {"schema": schema}}},
    }
