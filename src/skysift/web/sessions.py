"""Signed-cookie sessions, kept in the store too, the logged-in user, and CSRF tokens.

Sessions are Starlette's ``SessionMiddleware``: the session is a small JSON dict (the user's id,
a random session id and a CSRF token) in a cookie signed with itsdangerous, ``HttpOnly``,
``SameSite=Lax``, and ``Secure`` when ``session_cookie_secure`` is set (behind TLS). The signing
key is made on first run (32 random bytes) in a file of the data directory with mode 0600; there
is no default key in the code.

A signed cookie alone cannot be taken back, so each log-in also writes the SHA-256 of its session
id to ``web_sessions``, and a request is logged in only while that row exists: logging out deletes
it (an old copy of the cookie no longer works), and a password change deletes every session of
the user but the one that made it.

Every form carries the session's CSRF token in a hidden field ``csrf_token``; every
state-changing request checks it (:func:`check_csrf`) before doing anything.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp

from skysift.accounts import User
from skysift.config import Settings
from skysift.errors import ConfigError, UserError
from skysift.web.httperrors import Forbidden, NotLoggedIn
from skysift.store.schema import web_sessions as ws
from skysift.accounts import get_user

__all__ = [
    "COOKIE",
    "check_csrf",
    "csrf_token",
    "current_user",
    "end_other_sessions",
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
        max_age=settings.session_max_age_s, same_site="lax",
        https_only=settings.session_cookie_secure)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


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
    """Start a fresh session for ``user`` (new session id and CSRF token: no session fixation);
    sessions of the user older than ``session_max_age_s`` are forgotten."""

    request.session.clear()
    session_id = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    max_age = request.app.state.settings.session_max_age_s
    with request.app.state.engine.begin() as conn:
        conn.execute(ws.delete().where(ws.c.user_id == user.id,
                                       ws.c.created < now - timedelta(seconds=max_age)))
        conn.execute(ws.insert().values(id_hash=_hash(session_id), user_id=user.id, created=now))
    request.session["uid"] = user.id
    request.session["sid"] = session_id
    request.session["csrf"] = secrets.token_urlsafe(32)


def log_out(request: Request) -> None:
    """End the session: its row is deleted (an old copy of the cookie stops working) and the
    cookie cleared."""

    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        with request.app.state.engine.begin() as conn:
            conn.execute(ws.delete().where(ws.c.id_hash == _hash(session_id)))
    request.session.clear()


def end_other_sessions(request: Request, user_id: int) -> int:
    """Delete every session of ``user_id`` but this request's (after a password change);
    returns how many ended."""

    keep = request.session.get("sid") if request.session.get("uid") == user_id else None
    condition = ws.c.user_id == user_id
    if isinstance(keep, str):
        condition = sa.and_(condition, ws.c.id_hash != _hash(keep))
    with request.app.state.engine.begin() as conn:
        return int(conn.execute(ws.delete().where(condition)).rowcount or 0)


def current_user(request: Request) -> User | None:
    """The logged-in user, or None (also when the user was deleted since logging in)."""
    if "user" in request.state._state:
        return request.state.user
    user = None
    uid = request.session.get("uid") if "session" in request.scope else None
    session_id = request.session.get("sid") if "session" in request.scope else None
    if isinstance(uid, int) and isinstance(session_id, str):
        try:
            with request.app.state.engine.connect() as conn:
                live = conn.execute(sa.select(ws.c.user_id).where(
                    ws.c.id_hash == _hash(session_id))).scalar()
                user = get_user(conn, uid) if live == uid else None
        except UserError:
            user = None
        if user is None:
            request.session.clear()  # logged out elsewhere, password changed, or user deleted
    elif uid is not None:
        request.session.clear()  # a cookie from before sessions were kept in the store
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
