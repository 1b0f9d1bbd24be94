"""Signed-cookie sessions, the logged-in user, and CSRF tokens.

Sessions are Starlette's ``SessionMiddleware``: the session is a small JSON dict (the user's id
and a CSRF token, nothing secret) in a cookie signed with itsdangerous, ``HttpOnly`` and
``SameSite=Lax``. The signing key is made on first run (32 random bytes) in a file of the data
directory with mode 0600; there is no default key in the code.

Every form carries the session's CSRF token in a hidden field ``csrf_token``; every
state-changing request checks it (:func:`check_csrf`) before doing anything.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp

from skysift.accounts import User
from skysift.config import Settings
from skysift.errors import ConfigError, UserError
from skysift.web.httperrors import Forbidden, NotLoggedIn

__all__ = [
    "COOKIE",
    "check_csrf",
    "csrf_token",
    "current_user",
    "install_sessions",
    "log_in",
    "log_out",
    "require_admin",
    "require_user",
    "secret_path",
    "session_secret",
]

COOKIE = "skysift_session"
_MIN_SECRET_CHARS = 32


def secret_path(settings: Settings) -> Path:
    """Where the session signing key lives."""
    if settings.session_key_file:
        return Path(settings.session_key_file).expanduser()
    return Path(settings.data_dir) / "session.key"


def session_secret(settings: Settings) -> str:
    """The session signing key: read it, or make it (mode 0600) on first run."""
    path = secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the session key: {exc.strerror}", path=str(path)) from exc
    if len(key) < _MIN_SECRET_CHARS:
        raise ConfigError(f"the session key must be at least {_MIN_SECRET_CHARS} characters; "
                          "delete the file to make a new one", path=str(path))
    return key


def install_sessions(app: ASGIApp, settings: Settings) -> None:
    """Add the signed-cookie session middleware to ``app`` (a FastAPI/Starlette app)."""
    app.add_middleware(  # type: ignore[attr-defined]
        SessionMiddleware, secret_key=session_secret(settings), session_cookie=COOKIE,
        max_age=settings.session_max_age_s, same_site="lax", https_only=False)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made when the session has none)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, supplied: str | None) -> None:
    """Raise :class:`Forbidden` unless ``supplied`` is this session's CSRF token."""
    expected = request.session.get("csrf")
    if not expected or not supplied or not secrets.compare_digest(str(expected), str(supplied)):
        raise Forbidden("the form's security token is missing or out of date: "
                        "reload the page and try again", field="csrf_token")


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (new CSRF token: no session fixation)."""
    request.session.clear()
    request.session["uid"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    """End the session (the cookie is cleared)."""
    request.session.clear()


def current_user(request: Request) -> User | None:
    """The logged-in user, or None (also when the user was deleted since logging in)."""
    if "user" in request.state._state:
        return request.state.user
    user = None
    uid = request.session.get("uid") if "session" in request.scope else None
    if isinstance(uid, int):
        from skysift.accounts import get_user

        try:
            with request.app.state.engine.connect() as conn:
                user = get_user(conn, uid)
        except UserError:
            request.session.clear()
    request.state.user = user
    return user


def require_user(request: Request) -> User:
    """The logged-in user; :class:`NotLoggedIn` when there is none."""
    user = current_user(request)
    if user is None:
        raise NotLoggedIn("please log in first")
    return user


def require_admin(request: Request) -> User:
    """The logged-in user if an admin; :class:`Forbidden` otherwise."""
    user = require_user(request)
    if not user.is_admin:
        raise Forbidden("this page is for administrators")
    return user
