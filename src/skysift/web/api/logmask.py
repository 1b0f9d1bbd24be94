"""Keep API tokens out of the logs.

uvicorn's access log prints each request's path *with its query string*, so a call made with
``?token=<key>`` (Lasair's second way to authenticate) would write the key to the log.
:func:`install` adds :class:`TokenMask` to the ``uvicorn.access`` and ``uvicorn.error`` loggers
(and to any others named); it replaces the value of every ``token=`` argument with ``***`` in the
message and its arguments before any handler sees the record. skysift's own code never logs a
token or an Authorization header.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["TokenMask", "install", "mask"]

_TOKEN_ARG = re.compile(r"(?i)((?:^|[?&;\s])(?:token|password)=)[^&\s\"']*")


def mask(text: str) -> str:
    """``text`` with the values of ``token=`` (and ``password=``) arguments replaced by ``***``.

    Examples
    --------
    >>> mask("GET /api/cone/?ra=1&token=abc123&dec=2 HTTP/1.1")
    'GET /api/cone/?ra=1&token=***&dec=2 HTTP/1.1'
    """
    return _TOKEN_ARG.sub(r"\1***", text)


def _mask_arg(value: Any) -> Any:
    return mask(value) if isinstance(value, str) else value


class TokenMask(logging.Filter):
    """A logging filter that masks token values in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _mask_arg(v) for k, v in record.args.items()}
        return True


def install(*names: str) -> None:
    """Add :class:`TokenMask` to uvicorn's loggers and ``names`` (once each)."""
    for name in ("uvicorn.access", "uvicorn.error", *names):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenMask) for f in logger.filters):
            logger.addFilter(TokenMask())
