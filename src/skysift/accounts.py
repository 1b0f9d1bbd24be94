"""Users and their API tokens.

A token is shown once, when made; the store keeps only its SHA-256 and its first 8 characters.
Tokens look like Lasair's (40 hex characters) so the ``lasair`` client's ``?token=`` regex accepts them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from skysift.errors import UserError

__all__ = ["User", "add_user", "get_user", "list_users", "user_for_token", "new_token", "hash_token"]

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
    from skysift.store import schema

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
    now = datetime.now(timezone.utc)
    result = conn.execute(users.insert().values(
        name=name, email=email, token_hash=hash_token(token), token_prefix=token[:8],
        is_admin=is_admin, is_power=False, created=now,
        email_verified_at=now if (email and email_confirmed) else None))
    user_id = int(result.inserted_primary_key[0])
    return User(user_id, name, email, is_admin, False), token


def new_token(conn: sa.Connection, user_id: int) -> str:
    """Replace a user's API token; returns the new one (the old one stops working)."""
    users = _tables()
    token = secrets.token_hex(20)
    conn.execute(users.update().where(users.c.id == user_id)
                 .values(token_hash=hash_token(token), token_prefix=token[:8]))
    return token


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
    users = _tables()
    row = conn.execute(sa.select(users).where(users.c.token_hash == hash_token(token))).first()
    return _row_to_user(row) if row is not None else None
