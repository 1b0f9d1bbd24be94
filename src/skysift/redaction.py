"""Secrets, marked once and hidden wherever a value is shown.

A setting (:func:`skysift.config.setting`) or any dataclass field
(:func:`secret_metadata`) says how it is secret (:data:`SecretKind`); :func:`redacted_repr`,
``Settings.redacted`` and ``skysift config`` mask it from that mark, and
:func:`mask_url_password` hides the password of a database or bucket URL in logs and errors.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Literal

__all__ = ["MASK", "SECRET_KEY_PARTS", "SecretKind", "mask_url_password", "redact",
           "redacted_repr", "secret_metadata", "secret_of"]

#: How a value is secret (the ``secret`` of :func:`skysift.config.setting`):
#:
#: ``"value"``
#:     the whole value (a password, a key): shown as ``***`` when set;
#: ``"url"``
#:     the password of a URL (``scheme://user:PASSWORD@host``, ``?password=...``);
#: ``"keys"``
#:     a mapping (at any depth) whose entries under a key naming a password, secret, token,
#:     credential or private key are secret (``sasl.password``, ``client_secret``...).
SecretKind = Literal["value", "url", "keys"]
MASK = "***"
#: parts of a mapping key that make its value secret (``"keys"``)
SECRET_KEY_PARTS = ("password", "passwd", "secret", "token", "credential", "key.pem",
                    "private_key", "oauthbearer.config", "jaas.config")
_SECRET_QUERY = re.compile(r"([?&;][^=&;#]*(?:password|passwd|secret|token)[^=&;#]*=)[^&;#]*",
                           re.IGNORECASE)


def secret_metadata(kind: SecretKind) -> dict[str, SecretKind]:
    """The ``metadata`` of a :func:`dataclasses.field` (outside :class:`Settings`) that is
    secret: :func:`redacted_repr` masks it (``GcnSettings.client_secret``...)."""
    return {"secret": kind}


def _looks_secret(key: str) -> bool:
    low = key.lower()
    return any(part in low for part in SECRET_KEY_PARTS)


def mask_url_password(url: str) -> str:
    """``url`` with its password (``user:PASSWORD@``, ``?password=``) replaced by ``***``.

    >>> mask_url_password("postgresql://skysift:pw@db.example.org:5432/skysift?sslmode=require")
    'postgresql://skysift:***@db.example.org:5432/skysift?sslmode=require'
    >>> mask_url_password("postgresql://db/skysift?user=a&password=pw")
    'postgresql://db/skysift?user=a&password=***'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _SECRET_QUERY.sub(r"\1" + MASK, url)
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    creds, at, host = netloc.rpartition("@")
    if at:
        user, colon, _password = creds.partition(":")
        netloc = f"{user}{':' + MASK if colon else ''}@{host}"
    tail = _SECRET_QUERY.sub(r"\1" + MASK, tail)
    return f"{scheme}://{netloc}{tail}"


def redact(value: Any, kind: SecretKind | None) -> Any:
    """``value`` as it may be shown: masked as its ``kind`` says (unchanged when None)."""
    if kind is None or value is None or value == "" or value == {}:
        return value
    if kind == "value":
        return MASK
    if kind == "url":
        return mask_url_password(value) if isinstance(value, str) else value
    if isinstance(value, Mapping):
        return {k: (MASK if isinstance(k, str) and _looks_secret(k) and v not in (None, "")
                    else redact(v, "keys"))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, "keys") for v in value]
    return value


def secret_of(f: dataclasses.Field[Any]) -> SecretKind | None:
    """How a dataclass field is secret (its ``secret`` metadata), or None."""
    kind: SecretKind | None = f.metadata.get("secret")
    return kind


def redacted_repr(obj: Any) -> str:
    """The ``repr`` of a dataclass with every field marked secret masked (``secret`` metadata,
    as :func:`skysift.config.setting` sets it)."""
    parts = ", ".join(f"{f.name}={redact(getattr(obj, f.name), secret_of(f))!r}"
                      for f in fields(obj) if f.repr)
    return f"{type(obj).__qualname__}({parts})"
