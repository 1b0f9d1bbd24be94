"""Password hashing for web accounts: argon2id (argon2-cffi), with its recommended parameters.

Hashes are self-describing PHC strings (``$argon2id$v=19$m=...``), so the parameters can change
later without breaking stored hashes: :func:`needs_rehash` says when one should be renewed.
"""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "hash_password", "needs_rehash", "verify_password"]

#: Shortest and longest password accepted at sign-up (characters).
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so a wrong name takes as long as a
# wrong password (no user enumeration by timing).
_DUMMY = _hasher.hash("skysift-no-such-user")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (a PHC string, salt included).

    Examples
    --------
    >>> h = hash_password("correct horse")
    >>> h.startswith("$argon2id$"), verify_password(h, "correct horse"), verify_password(h, "x")
    (True, True, False)
    """
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or no/bad hash.

    A missing hash (a user made with ``skysift user add``, who has not set a password yet) still
    costs one verification, so it cannot be told apart by timing.
    """
    if not password_hash:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY, password + "\0")
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
