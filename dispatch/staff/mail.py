"""The emails staff get: an invitation to choose a password, a link to set a new one.

Read (build the message from the link's row), send with no transaction open, then record:
a task run twice sends once, and a lost task is found again by `unsent_links`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery import transactional
from dispatch.staff.accounts import link_url
from dispatch.staff.models import StaffLink

TASK = "staff.send_link"
SWEEP_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class LinkMail:
    link_id: int
    recipient: str
    message: bytes


def prepare(session: Session, settings: Settings, link_id: int) -> LinkMail | None:
    """The email for a link that is due (live, not sent yet); reads only."""
    link = session.get(StaffLink, link_id)
    now = utcnow()
    if link is None or link.sent_at or link.used_at or link.expires_at <= now:
        return None
    user = link.user
    if not user.active:
        return None
    message = transactional.build_staff_message(
        settings,
        kind="staff-invite" if link.purpose == "invite" else "staff-reset",
        email=user.email,
        name=user.name,
        locale=user.language,
        url=link_url(settings, link),
    )
    return LinkMail(link.id, user.email, message)


def mark_sent(session: Session, link_id: int, *, now: datetime | None = None) -> None:
    link = session.get(StaffLink, link_id)
    if link is not None:
        link.sent_at = now or utcnow()
        session.flush()


def unsent_links(session: Session, *, now: datetime | None = None) -> list[int]:
    """Live links whose email has not gone after a grace period (their task was lost)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(StaffLink.id).where(
                StaffLink.sent_at.is_(None),
                StaffLink.used_at.is_(None),
                StaffLink.expires_at > now,
                StaffLink.created_at < now - SWEEP_GRACE,
            )
        )
    )
