"""Errors of the web layer, and the HTTP status of every :class:`SkysiftError`.

The app's one error handler (:mod:`skysift.web.app`) asks :func:`status_of` for the status, then
answers with an HTML page or ``{"error": message}`` JSON (Lasair's shape, which the ``lasair``
client understands).
"""

from __future__ import annotations

from skysift.errors import (
    BrokerError,
    ConfigError,
    FilterError,
    FilterTimeout,
    SkysiftError,
    StoreError,
    UserError,
)

__all__ = ["BadInput", "Forbidden", "NotFound", "NotLoggedIn", "RateLimited", "WebError",
           "status_of"]


class WebError(SkysiftError):
    """An error of a web request; ``status`` is its HTTP status."""

    status = 400


class BadInput(WebError):
    """Malformed, missing, out-of-range or oversize input (400). ``field`` names the input."""

    status = 400


class NotLoggedIn(WebError):
    """The page or action needs a logged-in user (401; pages redirect to the login page)."""

    status = 401


class Forbidden(WebError):
    """Logged in, but not allowed (403): not an admin, or not the filter's owner."""

    status = 403


class NotFound(WebError):
    """No such thing, or not one this user may see (404; private things are never 403)."""

    status = 404


class RateLimited(WebError):
    """Too many calls or attempts (429); ``retry_after`` is in seconds."""

    status = 429


def status_of(exc: SkysiftError) -> int:
    """The HTTP status for an error skysift raised on purpose."""
    if isinstance(exc, WebError):
        return exc.status
    if isinstance(exc, FilterTimeout):
        return 400  # the user's query was too slow: their input, not our failure
    if isinstance(exc, FilterError):
        return 404 if exc.message == "no such filter" else 400
    if isinstance(exc, UserError):
        return 404 if exc.message == "no such user" else 400
    if isinstance(exc, (StoreError, BrokerError)):
        return 503
    if isinstance(exc, ConfigError):
        return 500
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) and 400 <= status < 600 else 500
