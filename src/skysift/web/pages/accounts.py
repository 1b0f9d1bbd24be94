"""Accounts: sign up, log in, log out, the profile (id and API token), setting a password.

A user made with ``skysift user add`` has no password yet: they set one on ``/password`` with the
API token the command printed. API tokens are stored hashed, so a token is shown once: on the
page that answers the sign-up or the "new token" button.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from skysift.accounts import MAX_TOKENS, User, add_user, get_user, new_token, user_for_token
from skysift.errors import UserError
from skysift.web.forms import Form, read_form
from skysift.web.httperrors import BadInput, NotFound, RateLimited
from skysift.web.passwords import MAX_PASSWORD, MIN_PASSWORD, hash_password, verify_password
from skysift.web.sessions import end_other_sessions, log_in, log_out, require_user
from skysift.web.templating import flash, render
from skysift.store.schema import users
from skysift.web.verify import send_verification
from skysift.web.verify import confirm
from skysift.web.throttles import throttle
from skysift.web.throttles import login_allowed, login_failed
from skysift.accounts import list_tokens
from skysift.accounts import revoke_token
from skysift.web.forms import parse_int

__all__ = ["router", "safe_next"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$")


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:500]
    return "/"


def _password(form: Form, name: str = "password") -> str:
    pw = form.text(name, max_len=MAX_PASSWORD, required=True, label="password", strip=False)
    if len(pw) < MIN_PASSWORD:
        raise BadInput(f"the password must be at least {MIN_PASSWORD} characters", field=name)
    return pw


def _set_password(conn: sa.Connection, user_id: int, password: str) -> None:
    conn.execute(users.update().where(users.c.id == user_id)
                 .values(password_hash=hash_password(password)))


@router.get("/signup")
def signup_page(request: Request) -> Response:
    return render(request, "signup.html", values={})


@router.post("/signup")
async def signup(request: Request) -> Response:
    """Create an account, log it in, and show its API token once."""
    form = await read_form(request)
    values = {k: form.values.get(k, "") for k in ("name", "email")}
    try:
        name = form.text("name", max_len=150, required=True, label="user name")
        email = form.text("email", max_len=254, required=True, label="email")
        if not _EMAIL.match(email):
            raise BadInput("that does not look like an email address", field="email")
        password = _password(form)
        if password != form.values.get("password2", password):
            raise BadInput("the two passwords differ", field="password2")
        with request.app.state.engine.begin() as conn:
            user, token = add_user(conn, name, email, email_confirmed=False)
            _set_password(conn, user.id, password)
    except (BadInput, UserError) as exc:
        return render(request, "signup.html", status=400, error=exc.message, values=values)
    log.info("new user %s (id %d) signed up", user.name, user.id)
    log_in(request, user)
    sent = _send_confirmation(request, user)
    return render(request, "profile.html", profile=user, token=token, welcome=True,
                  tokens=_tokens(request, user), max_tokens=MAX_TOKENS,
                  verified=False, confirmation_sent=sent)


def _send_confirmation(request: Request, user: User) -> bool:
    """Send the address-confirmation link; False (logged) when it could not be sent."""

    try:
        send_verification(request.app.state.settings, user)
    except Exception as exc:  # the account exists; the link can be sent again
        log.warning("could not send the confirmation link to user %d: %s", user.id, exc)
        return False
    return True


def _verified(request: Request, user: User) -> bool:
    with request.app.state.engine.connect() as conn:
        return conn.execute(sa.select(users.c.email_verified_at).where(
            users.c.id == user.id)).scalar() is not None


@router.get("/verify-email")
def verify_email(request: Request, token: str = "") -> Response:
    """Confirm an email address from the link sent to it."""

    try:
        confirm(request.app.state.engine, request.app.state.settings, token)
    except BadInput as exc:
        return render(request, "error.html", status=400, status_code=400, message=exc.message)
    flash(request, "Your email address is confirmed: digests of your email filters go to it.")
    return RedirectResponse("/profile", status_code=303)


@router.post("/profile/verify-email")
async def resend_confirmation(request: Request) -> Response:
    """Send the confirmation link again (at most a few times an hour)."""

    user = require_user(request)
    await read_form(request)
    if not user.email:
        raise BadInput("your account has no email address", field="email")
    settings = request.app.state.settings
    throttle(request, f"verify-mail:{user.id}", 5, settings.api_rate_window_s,
             "Too many confirmation emails.")
    sent = _send_confirmation(request, user)
    flash(request, f"A confirmation link was sent to {user.email}." if sent else
          "The confirmation link could not be sent; try again later.")
    return RedirectResponse("/profile", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=safe_next(next), values={})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    target = safe_next(form.values.get("next"))
    name = form.text("name", max_len=150, required=True, label="user name")
    password = form.text("password", max_len=MAX_PASSWORD, required=True, label="password",
                         strip=False)
    user: User | None = None
    password_hash = None

    settings = request.app.state.settings
    try:
        login_allowed(request, settings, name)
    except RateLimited as exc:
        return render(request, "login.html", status=429, next=target, values={"name": name},
                      error=exc.message)
    with request.app.state.engine.connect() as conn:
        row = conn.execute(sa.select(users.c.id, users.c.password_hash)
                           .where(sa.func.lower(users.c.name) == name.lower())).first()
        if row is not None:
            password_hash = row.password_hash
            user = get_user(conn, int(row.id))
    if user is None or not verify_password(password_hash, password):
        login_failed(request, settings, name)
        log.info("failed login for a user name of %d characters", len(name))
        return render(request, "login.html", status=401, next=target, values={"name": name},
                      error="wrong user name or password")
    log_in(request, user)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    log_out(request)
    return RedirectResponse("/", status_code=303)


@router.get("/profile")
def profile(request: Request) -> Response:
    user = require_user(request)
    return render(request, "profile.html", profile=user, token=None,
                  tokens=_tokens(request, user), max_tokens=MAX_TOKENS,
                  verified=_verified(request, user))


def _tokens(request: Request, user: User) -> list[Any]:
    with request.app.state.engine.connect() as conn:
        return list_tokens(conn, user.id)


@router.post("/profile/token")
async def regenerate_token(request: Request) -> Response:
    """Make another API token (the others keep working) and show it once."""
    user = require_user(request)
    form = await read_form(request)
    name = form.text("name", max_len=100, label="token name")
    with request.app.state.engine.begin() as conn:
        token = new_token(conn, user.id, name=name)
    log.info("user %d made a new API token", user.id)
    return render(request, "profile.html", profile=user, token=token,
                  tokens=_tokens(request, user), max_tokens=MAX_TOKENS,
                  verified=_verified(request, user))


@router.post("/profile/token/{token_id}/revoke")
async def revoke(request: Request, token_id: str) -> Response:
    """Revoke one of your tokens (it stops working at once)."""

    user = require_user(request)
    await read_form(request)
    ident = parse_int(token_id, "token id", lo=1, hi=2**31 - 1, label="a token id")
    with request.app.state.engine.begin() as conn:
        if not revoke_token(conn, user.id, ident):
            raise NotFound("you hold no such token")
    log.info("user %d revoked API token %d", user.id, ident)
    flash(request, "Token revoked: it no longer works.")
    return RedirectResponse("/profile", status_code=303)


@router.get("/password")
def password_page(request: Request) -> Response:
    return render(request, "password.html", values={})


@router.post("/password")
async def set_password(request: Request) -> Response:
    """Set a password with the API token (users made by ``skysift user add``, or forgotten)."""
    form = await read_form(request)
    values = {"name": form.values.get("name", "")}
    try:
        name = form.text("name", max_len=150, required=True, label="user name")
        token = form.text("token", max_len=100, required=True, label="API token")
        password = _password(form)
        with request.app.state.engine.begin() as conn:
            user = user_for_token(conn, token)
            if user is None or user.name.lower() != name.lower():
                raise BadInput("that user name and API token do not match", field="token")
            _set_password(conn, user.id, password)
    except BadInput as exc:
        return render(request, "password.html", status=400, error=exc.message, values=values)
    ended = end_other_sessions(request, user.id)
    log.info("user %d set a password; %d other session(s) ended", user.id, ended)
    log_in(request, user)
    flash(request, "Your password is set; you are logged in.")
    return RedirectResponse("/profile", status_code=303)
