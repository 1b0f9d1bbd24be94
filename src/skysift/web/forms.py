"""Reading form input safely: CSRF first, then each field checked, with a 400 that names it.

Every page that changes something reads its form with :func:`read_form`, which checks the CSRF
token before anything else; fields are then taken with :class:`Form` methods, which raise
:class:`~skysift.errors.BadInput` (400) naming the field for anything missing, oversize,
malformed or out of range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from skysift.web.httperrors import BadInput
from skysift.web.sessions import check_csrf

__all__ = ["MAX_FIELDS", "MAX_UPLOAD", "Form", "parse_float", "parse_int", "read_form",
           "read_upload_form"]

MAX_FIELDS = 40
_MAX_PART = 256 * 1024


class Form:
    """The text fields of a submitted form, with checked accessors."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def text(self, name: str, *, max_len: int, required: bool = False, label: str | None = None,
             strip: bool = True) -> str:
        """A text field ('' when absent), at most ``max_len`` characters."""
        label = label or name
        value = self.values.get(name, "")
        if strip:
            value = value.strip()
        if "\x00" in value:
            raise BadInput(f"{label} contains a NUL character", field=name)
        if len(value) > max_len:
            raise BadInput(f"{label} is too long: at most {max_len} characters, not {len(value)}",
                           field=name)
        if required and not value:
            raise BadInput(f"{label} is required", field=name)
        return value

    def flag(self, name: str) -> bool:
        """A checkbox: true when present with any value but '', '0', 'off', 'false'."""
        return self.values.get(name, "").strip().lower() not in ("", "0", "off", "false")

    def choice(self, name: str, choices: Iterable[str], *, default: str | None = None,
               label: str | None = None) -> str:
        """One of ``choices`` (``default`` when absent)."""
        allowed = tuple(choices)
        value = self.values.get(name, "").strip() or (default or "")
        if value not in allowed:
            raise BadInput(f"{label or name} must be one of {', '.join(allowed)}", field=name)
        return value


def parse_float(raw: str | None, name: str, *, lo: float | None = None, hi: float | None = None,
                label: str | None = None, required: bool = True) -> float | None:
    """A finite number in ``[lo, hi]``; :class:`BadInput` naming ``name`` otherwise.

    Examples
    --------
    >>> parse_float("12.5", "ra", lo=0, hi=360)
    12.5
    >>> parse_float("abc", "ra")
    Traceback (most recent call last):
    ...
    skysift.errors.BadInput: ra must be a number, not 'abc' (field=ra)
    """
    label = label or name
    text = (raw or "").strip()
    if not text:
        if required:
            raise BadInput(f"{label} is required", field=name)
        return None
    if len(text) > 64:
        raise BadInput(f"{label} is too long to be a number", field=name)
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{label} must be a number, not {text[:30]!r}", field=name) from None
    if not math.isfinite(value):
        raise BadInput(f"{label} must be a finite number", field=name)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadInput(f"{label} must be between {lo:g} and {hi:g}, not {value:g}", field=name)
    return value


def parse_int(raw: str | None, name: str, *, lo: int | None = None, hi: int | None = None,
              label: str | None = None) -> int:
    """A whole number in ``[lo, hi]``; :class:`BadInput` naming ``name`` otherwise."""
    label = label or name
    text = (raw or "").strip()
    if not text or len(text) > 24 or not text.lstrip("-").isdigit() or not text.isascii():
        raise BadInput(f"{label} must be a whole number, not {text[:30]!r}", field=name)
    value = int(text)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadInput(f"{label} must be between {lo} and {hi}, not {value}", field=name)
    return value


async def read_form(request: Request, *, csrf: bool = True) -> Form:
    """The request's form (urlencoded or multipart text fields), CSRF-checked."""
    try:
        raw = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=_MAX_PART)
    except MultiPartException as exc:
        raise BadInput(f"the form could not be read: {exc.message}") from exc
    values: dict[str, str] = {}
    for key, value in raw.multi_items():
        if isinstance(value, UploadFile):
            raise BadInput("files cannot be uploaded here", field=key)
        if len(key) > 64:
            raise BadInput("a form field name is too long")
        values.setdefault(key, value)
    if csrf:
        check_csrf(request, values.get("csrf_token"))
    return Form(values)


#: The largest uploaded file (a watchlist of a million cones is about 40 MB of text).
MAX_UPLOAD = 96 << 20


async def read_upload_form(
    request: Request, file_field: str
) -> tuple[Form, tuple[str, bytes] | None]:
    """A form with one optional file, CSRF-checked: (the text fields, (filename, bytes) or
    None when no file was chosen)."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit() or int(declared) > MAX_UPLOAD + 65536:
        raise BadInput(f"the upload is larger than {MAX_UPLOAD >> 20} MB (or has no length)")
    try:
        raw = await request.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_UPLOAD)
    except MultiPartException as exc:
        raise BadInput(f"the form could not be read: {exc.message}") from exc
    values: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    for key, value in raw.multi_items():
        if isinstance(value, UploadFile):
            if key != file_field:
                raise BadInput("files cannot be uploaded here", field=key)
            data = await value.read()
            if data:
                upload = (value.filename or "upload", data)
            continue
        if len(key) > 64:
            raise BadInput("a form field name is too long")
        values.setdefault(key, value)
    check_csrf(request, values.get("csrf_token"))
    return Form(values), upload
