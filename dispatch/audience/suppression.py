"""Suppression: addresses that must never be mailed again, kept only as keyed hashes.

The hash is an HMAC of the normalised address under the secret key, so the list survives
erasure without holding the address. Lookups try every signing key, newest first, so that
rotating `security.secret_key` (keeping the old one in `old_secret_keys`) forgets no one.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.audience.addresses import normalise_email_loosely
from dispatch.audience.models import SUPPRESSION_REASONS, Suppression
from dispatch.config import Settings


def _hash(key: str, email: str) -> str:
    message = b"dispatch-suppression:" + normalise_email_loosely(email).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def email_hash(settings: Settings, email: str) -> str:
    """The keyed hash of an address under the current key (64 hex characters)."""
    return _hash(settings.secret_key, email)


def _all_hashes(settings: Settings, email: str) -> list[str]:
    return [_hash(key, email) for key in settings.security.signing_keys()]


def is_suppressed(session: Session, settings: Settings, email: str) -> bool:
    """True when the address must not be mailed (unsubscribed, bounced, complained, erased)."""
    hashes = _all_hashes(settings, email)
    return (
        session.scalar(select(Suppression.id).where(Suppression.email_hash.in_(hashes))) is not None
    )


def suppression_reason(session: Session, settings: Settings, email: str) -> str | None:
    hashes = _all_hashes(settings, email)
    return session.scalar(select(Suppression.reason).where(Suppression.email_hash.in_(hashes)))


def suppress(session: Session, settings: Settings, email: str, reason: str) -> Suppression:
    """Suppress an address (idempotent); a later reason replaces the earlier one."""
    if reason not in SUPPRESSION_REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}; use one of {SUPPRESSION_REASONS}")
    hashes = _all_hashes(settings, email)
    current = email_hash(settings, email)
    row = session.scalar(select(Suppression).where(Suppression.email_hash.in_(hashes)))
    if row is None:
        row = Suppression(email_hash=current, reason=reason)
        session.add(row)
    else:
        # Re-keyed under the current key on the way, so old keys can eventually be retired.
        row.email_hash = current
        row.reason = reason
    session.flush()
    return row


def lift(session: Session, settings: Settings, email: str) -> None:
    """Remove a suppression: only ever after the person confirmed again (double opt-in)."""
    session.execute(
        delete(Suppression).where(Suppression.email_hash.in_(_all_hashes(settings, email)))
    )
