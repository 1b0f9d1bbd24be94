"""Rate limits of the web site and API: who may call again, and when.

One :class:`RateLimiter` per app (``app.state.api_limiter``) counts calls in sliding windows,
per key; the keys say what is limited:

- ``user:<id>``: REST API calls (``api_rate_limit`` per ``api_rate_window_s``; power users
  ``api_power_rate_limit``);
- ``save:<id>``: filter saves and replays by a user, on the site and the API
  (``filter_save_rate_limit``);
- ``run:<id>``: runs of filter SQL over the store or the archive by a user (the editor's Run and
  Backtest, ``?run=1``, ``/api/filters/{id}/backtest/``) (``filter_run_rate_limit``), and
  ``run-anon:<address>`` for visitors who are not logged in (``anonymous_run_rate_limit``);
- ``login-user:<name>`` and ``login-addr:<address>``: *failed* log-ins (the site's form and
  ``/api/auth-token/``), ``login_failure_limit`` per account and five times that per address, per
  ``login_window_s``. While an account is over its limit even the right password is refused.

The client address is the connection's, or the one a trusted proxy put in ``X-Forwarded-For``:
uvicorn applies the header only for proxies listed in ``forwarded_allow_ips`` (none by default),
so a client cannot choose its own address.

The counts live in memory: with several web processes each counts its own (docs/web.md).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from starlette.requests import Request

from skysift.config import Settings
from skysift.web.httperrors import RateLimited

__all__ = ["RateLimiter", "client_address", "limiter_of", "login_allowed", "login_failed",
           "throttle"]

_create_lock = threading.Lock()


class RateLimiter:
    """Sliding-window call counts per key, safe across threads."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window_s: float, now: float | None = None, *,
            count: bool = True) -> float | None:
        """Count a call (unless ``count`` is False); None when allowed, else the seconds until
        one is allowed again. Refused calls are not counted."""
        if limit <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - window_s:
                calls.popleft()
            if len(calls) >= limit:
                return max(calls[0] + window_s - now, 0.0)
            if count:
                calls.append(now)
            if len(self._calls) > 10_000:
                self._forget_idle(now - window_s)
            return None

    def _forget_idle(self, cutoff: float) -> None:
        for key in [k for k, q in self._calls.items() if not q or q[-1] <= cutoff]:
            del self._calls[key]


def limiter_of(request: Request) -> RateLimiter:
    """The app's limiter (made on first use)."""
    state = request.app.state
    limiter = getattr(state, "api_limiter", None)
    if limiter is None:
        with _create_lock:
            limiter = getattr(state, "api_limiter", None)
            if limiter is None:
                limiter = state.api_limiter = RateLimiter()
    return limiter


def client_address(request: Request) -> str:
    """The client's address (a trusted proxy's ``X-Forwarded-For`` already applied)."""
    return request.client.host if request.client else "unknown"


def _wait_text(wait: float) -> str:
    seconds = int(wait) + 1
    return f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"


def throttle(request: Request, key: str, limit: int, window_s: float,
             what: str = "Request was throttled.") -> None:
    """Count a call under ``key``; :class:`RateLimited` when over ``limit`` per ``window_s``."""
    wait = limiter_of(request).hit(key, limit, window_s)
    if wait is not None:
        raise RateLimited(f"{what} Expected available in {int(wait) + 1} seconds.",
                          retry_after=wait)


def login_allowed(request: Request, settings: Settings, name: str) -> None:
    """Refuse (429) a log-in for an account, or from an address, with too many recent failures.

    Checked before the password, so the right password does not get through a lock-out."""
    limiter = limiter_of(request)
    window, limit = settings.login_window_s, settings.login_failure_limit
    for key, n in ((f"login-user:{name.lower()}", limit),
                   (f"login-addr:{client_address(request)}", 5 * limit)):
        wait = limiter.hit(key, n, window, count=False)
        if wait is not None:
            raise RateLimited(f"too many failed log-ins: try again in {_wait_text(wait)}",
                              retry_after=wait)


def login_failed(request: Request, settings: Settings, name: str) -> None:
    """Count a failed log-in against the account and the address."""
    limiter = limiter_of(request)
    window, limit = settings.login_window_s, settings.login_failure_limit
    limiter.hit(f"login-user:{name.lower()}", limit, window)
    limiter.hit(f"login-addr:{client_address(request)}", 5 * limit, window)
