"""Who is calling, and whether they may call again: token authentication and rate limits.

Authentication is Lasair's: the header ``Authorization: Token <key>`` or the query argument
``?token=<key>`` (letters, digits and ``_`` only). The store keeps only each token's SHA-256
(:func:`skysift.accounts.user_for_token`). A call without a valid token answers 401.

Rate limits are per user, over a sliding window of ``api_rate_window_s`` seconds (an hour):
``api_rate_limit`` calls (100, Lasair's default) and ``api_power_rate_limit`` for power users
(``users.is_power``). Past the limit a call answers 429 with ``Retry-After``; refused calls do
not count. ``/api/auth-token/`` (no token yet) is limited per client address with the default
rate, against password guessing.

The counts live in memory, in the app (``app.state.api_limiter``): nothing is written to the
store on a call, so API traffic never waits for the ingest's write lock on SQLite. With several
web processes each counts its own calls, so a user may make up to N times the limit; a shared
limiter (PostgreSQL or Redis) is the change to make if that matters.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery

from skysift.accounts import User, user_for_token
from skysift.web.api.deps import Engine, SettingsDep
from skysift.web.httperrors import NotLoggedIn, RateLimited
from skysift.web.throttles import RateLimiter, limiter_of, throttle

__all__ = ["ApiUser", "RateLimited", "RateLimiter", "api_user", "limiter_of", "throttle"]

_TOKEN = re.compile(r"^\w{1,128}$", re.ASCII)
_header = APIKeyHeader(name="Authorization", auto_error=False,
                       description="`Token <your API token>` (from your profile page)")
_query = APIKeyQuery(name="token", auto_error=False, description="your API token")


def _token_of(header: str | None, query: str | None) -> str:
    if header:
        parts = header.split()
        if not parts or parts[0].lower() != "token":
            raise NotLoggedIn("Authentication credentials were not provided: use the header "
                              "'Authorization: Token <key>'")
        if len(parts) != 2:
            raise NotLoggedIn("Invalid token header: give 'Token <key>' with no spaces in key")
        token = parts[1]
    elif query:
        token = query
    else:
        raise NotLoggedIn("Authentication credentials were not provided.")
    if not _TOKEN.match(token):
        raise NotLoggedIn("Invalid token.")
    return token


def api_user(request: Request, settings: SettingsDep, engine: Engine,
             header: Annotated[str | None, Security(_header)] = None,
             query: Annotated[str | None, Security(_query)] = None) -> User:
    """The calling user (401 without a valid token), counted against their rate limit (429)."""
    token = _token_of(header, query)
    with engine.begin() as conn:  # begin: the token's last_used may be noted
        user = user_for_token(conn, token)
    if user is None:
        raise NotLoggedIn("Invalid token.")
    limit = settings.api_power_rate_limit if user.is_power else settings.api_rate_limit
    throttle(request, f"user:{user.id}", limit, settings.api_rate_window_s)
    return user


ApiUser = Annotated[User, Depends(api_user)]
