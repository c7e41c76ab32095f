"""Passwords: argon2id hashes, and what a password must be to be accepted."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
# Verifying against this when the account does not exist takes as long as a real check, so
# the answer's timing does not tell which addresses have accounts.
_DUMMY = _hasher.hash("not a password anyone has")


class PasswordError(ValueError):
    """A password that cannot be used; the message says why, for the person typing it."""


def check_new(password: str, *, email: str, min_length: int) -> str:
    if len(password) < min_length:
        raise PasswordError(f"at least {min_length} characters")
    if len(password) > 1000:
        raise PasswordError("at most 1,000 characters")
    if password.strip().lower() == email.strip().lower() or len(set(password)) < 4:
        raise PasswordError("too easy to guess")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; takes the same time when there is no hash to match."""
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
