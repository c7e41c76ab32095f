"""What delivery needs from the audience domain, in one place: signed links, suppression
checks for a whole batch at once, and bounce and complaint marks."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience import service as audience_service
from dispatch.audience.consent import Origin
from dispatch.audience.models import Suppression
from dispatch.audience.suppression import email_hash, suppress
from dispatch.audience.tokens import preferences_url, unsubscribe_url
from dispatch.config import Settings

__all__ = [
    "email_hash",
    "mark_bounced",
    "mark_complained",
    "normalise_email",
    "preferences_url",
    "suppress",
    "suppressed_hashes",
    "unsubscribe_url",
]


def normalise_email(address: str) -> str:
    return address.strip().lower()


def suppressed_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of `hashes` (under the current key) are suppressed, in one query.

    Suppressions still stored under an older key are caught by the subscriber's status,
    which the same unsubscribe, bounce or complaint changed.
    """
    wanted = list(set(hashes))
    if not wanted:
        return set()
    rows = session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(wanted)))
    return set(rows)


def mark_bounced(
    session: Session, settings: Settings, subscriber_id: int, *, hard: bool, source: str
) -> str | None:
    """A bounce: hard ones, and soft ones past the threshold, suppress the address."""
    return audience_service.mark_bounced(
        session, settings, subscriber_id, hard=hard, origin=Origin(source)
    )


def mark_complained(
    session: Session, settings: Settings, subscriber_id: int, *, source: str
) -> str | None:
    """A spam complaint: never mail the address again."""
    return audience_service.mark_complained(session, settings, subscriber_id, origin=Origin(source))
