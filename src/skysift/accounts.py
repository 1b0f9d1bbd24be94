"""Users and their API tokens.

A token is shown once, when made; the store keeps only its SHA-256 and its first 8 characters.
Tokens look like Lasair's (40 hex characters) so the ``lasair`` client's ``?token=`` regex accepts
them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, UTC
from typing import Any

import sqlalchemy as sa

from skysift.errors import UserError
from skysift.store import schema
from skysift.store.statements import inserted_id
from skysift.store.schema import api_tokens
from skysift.store.schema import api_tokens as t

__all__ = ["ApiToken", "User", "add_user", "get_user", "hash_token", "list_tokens", "list_users",
           "new_token", "revoke_token", "user_for_token"]

#: The most tokens one user may hold; beyond it, making one revokes the least recently used.
MAX_TOKENS = 20
#: last_used is written at most this often per token (seconds): a call is a read, not a write.
LAST_USED_GRANULARITY_S = 60.0

_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,150}$")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str | None
    is_admin: bool = False
    is_power: bool = False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tables():
    return schema.users


def _row_to_user(row: Any) -> User:
    m = row._mapping
    return User(int(m["id"]), m["name"], m["email"], bool(m["is_admin"]), bool(m["is_power"]))


def add_user(conn: sa.Connection, name: str, email: str | None = None, *,
             is_admin: bool = False, email_confirmed: bool = True) -> tuple[User, str]:
    """Create a user; returns the user and their new API token (shown once).

    ``email_confirmed``: whether the address counts as confirmed (the operator's ``skysift user
    add`` vouches for it; a web sign-up passes False and confirms by the emailed link)."""
    users = _tables()
    if not _NAME.match(name):
        raise UserError("a user name is 1-150 characters of letters, digits and _ . @ + -",
                        user=name)
    exists = conn.execute(sa.select(users.c.id).where(sa.func.lower(users.c.name) == name.lower()))
    if exists.first() is not None:
        raise UserError("a user with that name exists already", user=name)
    token = secrets.token_hex(20)
    now = datetime.now(UTC)

    result = conn.execute(users.insert().values(
        name=name, email=email, token_hash=hash_token(token), token_prefix=token[:8],
        is_admin=is_admin, is_power=False, created=now,
        email_verified_at=now if (email and email_confirmed) else None))
    user_id = inserted_id(result)
    _insert_token(conn, user_id, token, "first", now)
    return User(user_id, name, email, is_admin, False), token


@dataclass(frozen=True)
class ApiToken:
    """One of a user's API tokens, as listed (the token itself is never kept)."""

    id: int
    name: str
    prefix: str
    created: datetime
    last_used: datetime | None


def _insert_token(conn: sa.Connection, user_id: int, token: str, name: str,
                  now: datetime) -> int:
    return inserted_id(conn.execute(api_tokens.insert().values(
        user_id=user_id, name=name[:100], token_hash=hash_token(token), token_prefix=token[:8],
        created=now)))


def new_token(conn: sa.Connection, user_id: int, name: str = "") -> str:
    """Make another API token for a user and return it (shown once; the others keep working).

    A user holds at most :data:`MAX_TOKENS`: making one more revokes the least recently used.
    """

    token = secrets.token_hex(20)
    now = datetime.now(UTC)
    held = conn.execute(sa.select(api_tokens.c.id).where(api_tokens.c.user_id == user_id)
                        .order_by(sa.func.coalesce(api_tokens.c.last_used, api_tokens.c.created),
                                  api_tokens.c.id)).scalars().all()
    for old in held[: max(0, len(held) - MAX_TOKENS + 1)]:
        conn.execute(api_tokens.delete().where(api_tokens.c.id == old))
    _insert_token(conn, user_id, token, name or f"made {now:%Y-%m-%d %H:%M} UTC", now)
    return token


def list_tokens(conn: sa.Connection, user_id: int) -> list[ApiToken]:
    """A user's tokens, newest first."""

    return [ApiToken(int(r.id), r.name, r.token_prefix, r.created, r.last_used)
            for r in conn.execute(sa.select(t).where(t.c.user_id == user_id)
                                  .order_by(t.c.created.desc(), t.c.id.desc()))]


def revoke_token(conn: sa.Connection, user_id: int, token_id: int) -> bool:
    """Revoke one of the user's tokens; False when they hold no such token."""

    done = conn.execute(t.delete().where(t.c.id == token_id, t.c.user_id == user_id))
    return bool(done.rowcount)


def get_user(conn: sa.Connection, name_or_id: str | int) -> User:
    users = _tables()
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        cond = users.c.id == int(name_or_id)
    else:
        cond = sa.func.lower(users.c.name) == str(name_or_id).lower()
    row = conn.execute(sa.select(users).where(cond)).first()
    if row is None:
        raise UserError("no such user", user=name_or_id)
    return _row_to_user(row)


def list_users(conn: sa.Connection) -> list[User]:
    users = _tables()
    return [_row_to_user(r) for r in conn.execute(sa.select(users).order_by(users.c.id))]


def user_for_token(conn: sa.Connection, token: str) -> User | None:
    """The user holding ``token`` (None for an unknown or revoked one). Notes when the token was
    last used, at most once a minute (written on ``conn``: call it in ``engine.begin()``)."""

    users = _tables()
    row = conn.execute(sa.select(users, t.c.id.label("token_id"), t.c.last_used)
                       .join(t, t.c.user_id == users.c.id)
                       .where(t.c.token_hash == hash_token(token))).first()
    if row is None:
        return None
    now = datetime.now(UTC)
    last = row._mapping["last_used"]
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is None or (now - last).total_seconds() >= LAST_USED_GRANULARITY_S:
        conn.execute(t.update().where(t.c.id == row._mapping["token_id"]).values(last_used=now))
    return _row_to_user(row)
