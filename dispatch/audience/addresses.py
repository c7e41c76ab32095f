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


class InternationalAddressError(InvalidInputError):
    """An address with a non-ASCII local part, which the mail path cannot deliver to."""

    def __init__(self, email: str) -> None:
        super().__init__(
            "email",
            f"{email} has accented or non-Latin letters before the @, and our mail server "
            "cannot send to such addresses (it does not offer SMTPUTF8): use another address",
        )


def needs_smtputf8(email: str) -> bool:
    """Whether mail to `email` needs SMTPUTF8: a non-ASCII local part (an internationalised
    domain alone does not: it is sent in its ASCII form)."""
    return not email.rpartition("@")[0].isascii()


def check_mailable(email: str, *, smtputf8: bool) -> None:
    """Refuse an address mail cannot be sent to (`smtputf8`: the mail path offers SMTPUTF8)."""
    if not smtputf8 and needs_smtputf8(email):
        raise InternationalAddressError(email)


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
