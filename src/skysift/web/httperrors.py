"""Errors of the web layer, and the HTTP status of every :class:`SkysiftError`.

The web errors (:class:`WebError` and its children) are defined in :mod:`skysift.errors`, in the
one tree, and re-exported here.

The app's one error handler (:mod:`skysift.web.app`) asks :func:`status_of` for the status, then
answers with an HTML page or ``{"error": message}`` JSON (Lasair's shape, which the ``lasair``
client understands).
"""

from __future__ import annotations

from skysift.errors import (
    ArchiveError,
    BadInput,
    BrokerError,
    ConfigError,
    FilterError,
    FilterTimeout,
    Forbidden,
    NotFound,
    NotLoggedIn,
    RateLimited,
    SkysiftError,
    StoreError,
    UserError,
    WebError,
)

__all__ = ["BadInput", "Forbidden", "NotFound", "NotLoggedIn", "RateLimited", "WebError",
           "status_of"]


def status_of(exc: SkysiftError) -> int:
    """The HTTP status for an error skysift raised on purpose."""
    if isinstance(exc, WebError):
        return exc.status
    if isinstance(exc, FilterTimeout):
        return 400  # the user's query was too slow: their input, not our failure
    if isinstance(exc, FilterError):
        return 404 if exc.message == "no such filter" else 400
    if isinstance(exc, ArchiveError):
        return 400  # nights the archive does not hold (or none yet): what was asked for
    if isinstance(exc, UserError):
        return 404 if exc.message == "no such user" else 400
    if isinstance(exc, (StoreError, BrokerError)):
        return 503
    if isinstance(exc, ConfigError):
        return 500
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) and 400 <= status < 600 else 500
