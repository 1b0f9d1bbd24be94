"""Confirming a user's email address before any digest is sent to it.

Sign-up sends a message with a link ``<web_url>/verify-email?token=...``; the token is the user's
id and address signed with the session key (itsdangerous, valid ``VERIFY_MAX_AGE_S``). Opening the
link sets ``users.email_verified_at`` if the user's address is still that one. Digests, failure
notices and expiry notices go only to confirmed addresses (:mod:`skysift.notify`). Users made by
the operator (``skysift user add --email``) count as confirmed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from skysift.accounts import User
from skysift.config import Settings
from skysift.web.httperrors import BadInput
from skysift.web.sessions import session_secret
from skysift.notify.digest import new_message
from skysift.notify.mail import sender_for
from skysift.store.schema import users

__all__ = ["VERIFY_MAX_AGE_S", "confirm", "send_verification", "verification_token"]

log = logging.getLogger(__name__)
VERIFY_MAX_AGE_S = 7 * 24 * 3600
_SALT = "skysift.verify-email"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(session_secret(settings), salt=_SALT)


def verification_token(settings: Settings, user: User) -> str:
    """The signed token that confirms ``user.email`` for ``user``."""
    return _serializer(settings).dumps({"uid": user.id, "email": user.email})


def send_verification(settings: Settings, user: User) -> str:
    """Send the confirmation link to ``user.email``; where it went (SMTP host or .eml file)."""

    assert user.email
    link = f"{settings.web_url}/verify-email?token={verification_token(settings, user)}"
    msg = new_message(settings, user.email, "skysift: confirm your email address")
    msg.set_content(
        f"Hello {user.name},\n\nopen this link to confirm that {user.email} is yours; skysift "
        f"sends email digests of your filters only to a confirmed address:\n\n    {link}\n\n"
        f"The link works for {VERIFY_MAX_AGE_S // 86400} days. If you did not sign up, ignore "
        "this message.\n")
    where = sender_for(settings).send(msg)
    log.info("confirmation link for user %d sent (%s)", user.id, where)
    return where


def confirm(engine: sa.Engine, settings: Settings, token: str) -> int:
    """Confirm the address in ``token``; the user's id.

    Raises
    ------
    BadInput
        The token is forged, expired, or names an address the user no longer has.
    """

    try:
        data = _serializer(settings).loads(token, max_age=VERIFY_MAX_AGE_S)
    except SignatureExpired as exc:
        raise BadInput("this confirmation link has expired: send a new one from your profile",
                       field="token") from exc
    except BadSignature as exc:
        raise BadInput("this confirmation link is not valid", field="token") from exc
    with engine.begin() as conn:
        done = conn.execute(users.update().where(users.c.id == int(data["uid"]),
                                                 users.c.email == data["email"])
                            .values(email_verified_at=datetime.now(UTC)))
    if done.rowcount != 1:
        raise BadInput("this link confirms an address the account no longer has",
                       field="token")
    return int(data["uid"])
