"""The emails a person asks for, as rows: what is due, and the stamp once it went out.

A request stamps `*_requested_at` on the subscriber (confirmation, preferences link, the
welcome a confirmation asks for, the re-permission email of a purge); sending stamps
`*_sent_at`. A second run of the
same request therefore sends nothing, and a request whose task was lost is found again by
`unsent`. Building and sending the email is the sending engine's (`dispatch.delivery.
transactional`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience import tokens
from dispatch.audience.models import LinkRequest, Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import Settings
from dispatch.db import utcnow

Kind = Literal["confirm", "link", "welcome", "repermission"]
#: The task that sends each kind, for the doorbell.
TASKS: dict[Kind, str] = {
    "confirm": "audience.send_confirmation",
    "link": "audience.send_preferences_link",
    "welcome": "audience.send_welcome",
    "repermission": "audience.send_repermission",
}
#: The task that decides what an "email me my link" request gets.
LINK_REQUEST_TASK = "audience.handle_link_request"
SWEEP_GRACE = timedelta(minutes=5)
_SENT_COLUMN = {
    "confirm": "confirmation_sent_at",
    "link": "link_sent_at",
    "welcome": "welcome_sent_at",
    "repermission": "repermission_sent_at",
}
#: How long a welcome stays owed: one found later (a worker down for days) is stale news.
WELCOME_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class DueMail:
    """An email that is due: for whom, and the link it carries."""

    kind: Kind
    subscriber: Subscriber
    url: str


def _due(requested: datetime | None, sent: datetime | None) -> bool:
    return requested is not None and (sent is None or sent < requested)


def due(session: Session, settings: Settings, kind: Kind, subscriber_id: int) -> DueMail | None:
    """The email of `kind` if it is due (requested and not yet sent); reads only."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    if kind == "confirm":
        if subscriber.status != "pending" or not _due(
            subscriber.confirm_requested_at, subscriber.confirmation_sent_at
        ):
            return None
        url = tokens.confirm_url(settings, subscriber.id, subscriber.confirm_nonce)
    elif kind == "link":
        if subscriber.status != "active" or not _due(
            subscriber.link_requested_at, subscriber.link_sent_at
        ):
            return None
        url = tokens.preferences_url(settings, subscriber.id)
    elif kind == "welcome":
        if (
            subscriber.status != "active"
            or subscriber.confirmed_at is None
            or not _due(subscriber.welcome_requested_at, subscriber.welcome_sent_at)
        ):
            return None
        url = tokens.preferences_url(settings, subscriber.id)
    else:
        if subscriber.status != "active" or not _due(
            subscriber.repermission_requested_at, subscriber.repermission_sent_at
        ):
            return None
        url = tokens.stay_url(settings, subscriber.id)
    # A confirmation is the one email a suppressed address may get: the person asked anew.
    if kind != "confirm" and is_suppressed(session, settings, subscriber.email):
        return None
    return DueMail(kind, subscriber, url)


def record_sent(session: Session, kind: Kind, subscriber_id: int) -> None:
    """Stamp the sending, so that a second run of the same request sends nothing."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        setattr(subscriber, _SENT_COLUMN[kind], utcnow())
        session.flush()


def unsent(session: Session, *, now: datetime | None = None) -> list[tuple[str, int]]:
    """Requested emails not sent after a grace period: (task name, id) pairs, the id a
    subscriber's, or a waiting "email me my link" request's for LINK_REQUEST_TASK.

    The request rows are the truth; a task lost with a killed worker is simply asked again,
    and the senders' own checks make a duplicate request send nothing twice.
    """
    cutoff = (now or utcnow()) - SWEEP_GRACE
    s = Subscriber
    wanted = [
        (
            TASKS["confirm"],
            (s.status == "pending")
            & (s.confirm_requested_at < cutoff)
            & (
                s.confirmation_sent_at.is_(None) | (s.confirmation_sent_at < s.confirm_requested_at)
            ),
        ),
        (
            TASKS["link"],
            (s.status == "active")
            & (s.link_requested_at < cutoff)
            & (s.link_sent_at.is_(None) | (s.link_sent_at < s.link_requested_at)),
        ),
        (
            TASKS["welcome"],
            (s.status == "active")
            & (s.welcome_requested_at < cutoff)
            & (s.welcome_requested_at > cutoff - WELCOME_WINDOW)
            & (s.welcome_sent_at.is_(None) | (s.welcome_sent_at < s.welcome_requested_at)),
        ),
        (
            TASKS["repermission"],
            (s.status == "active")
            & (s.repermission_requested_at < cutoff)
            & (
                s.repermission_sent_at.is_(None)
                | (s.repermission_sent_at < s.repermission_requested_at)
            ),
        ),
    ]
    lost_requests = session.scalars(
        select(LinkRequest.id).where(LinkRequest.requested_at < cutoff).limit(500)
    )
    return [
        (task, subscriber_id)
        for task, condition in wanted
        for subscriber_id in session.scalars(select(s.id).where(condition).limit(500))
    ] + [(LINK_REQUEST_TASK, request_id) for request_id in lost_requests]
