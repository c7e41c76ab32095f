"""Checking what people type: addresses (email-validator, no DNS) and header-safe text fields."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

# CR/LF and every other control or line-breaking character: any of them could break a
# header line (name in "To:", subject) or a CSV cell, so they are refused, never stripped.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_NAME = 200


class InvalidInputError(ValueError):
    """A field that cannot be accepted; `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def has_unsafe_characters(value: str) -> bool:
    return _UNSAFE.search(value) is not None


def normalise_email(raw: str) -> str:
    """The address as stored: validated, domain and local part lowercased, or InvalidInputError."""
    if has_unsafe_characters(raw):
        raise InvalidInputError("email", "the address contains a line break or control character")
    candidate = raw.strip()
    if not candidate:
        raise InvalidInputError("email", "the address is empty")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInputError("email", str(exc)) from exc
    # Mailboxes are case-insensitive in practice; one person, one row.
    return result.normalized.lower()


# Lowercase ASCII dot-atom addresses: what normalise_email returns them as, unchanged.
_ALREADY_NORMAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9.-]+")


def normalise_email_loosely(raw: str) -> str:
    """For hashing staff input that may not validate any more (erasure of an old address).

    Stored addresses are already normal; recognising them skips the validator, which the
    sending engine would otherwise run once per recipient.
    """
    if _ALREADY_NORMAL.fullmatch(raw):
        return raw
    try:
        return normalise_email(raw)
    except InvalidInputError:
        return raw.strip().lower()


def clean_text(value: str | None, field: str, *, max_length: int = MAX_NAME) -> str:
    """A single-line text field: stripped, refused if it holds control characters or is too long."""
    text = (value or "").strip()
    if has_unsafe_characters(text):
        raise InvalidInputError(field, f"{field} contains a line break or control character")
    if len(text) > max_length:
        raise InvalidInputError(field, f"{field} is longer than {max_length} characters")
    return text
