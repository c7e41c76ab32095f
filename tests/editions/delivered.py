"""Helpers for edition tests that go all the way to the outbox through the sending engine."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.message import EmailMessage

from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.content.models import PublicationEvent
from dispatch.content.publications import fire_publication
from dispatch.delivery import sending, sweeper, throttle
from dispatch.delivery.outbox import OutboxTransport


def publish(session: Session, item_id: int, at: datetime, *, silent: bool = False) -> int:
    """Fire the item's publication event as if it happened `at`; returns the event id."""
    assert fire_publication(session, item_id, silent=silent)
    event = session.scalar(select(PublicationEvent).where(PublicationEvent.item_id == item_id))
    assert event is not None
    event.created_at = at
    session.flush()
    return event.id


def send_due(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """One delivery tick at `now`, then every batch of every started edition, to the outbox."""
    with sessions() as session, session.begin():
        result = sweeper.sweep(session, settings=settings, now=now)
    gate = throttle.for_settings(settings, sessions)
    for edition_id in result.batches:
        while True:
            mailer = sending.Mailer(
                settings, OutboxTransport(settings.mail_outbox_dir, fsync=False), gate
            )
            report = sending.send_next_batch(sessions, edition_id, mailer)
            if not report.more:
                break


def outbox(settings: Settings) -> dict[str, list[EmailMessage]]:
    """Messages in the outbox by recipient."""
    found: dict[str, list[EmailMessage]] = {}
    folder = settings.mail_outbox_dir
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        found.setdefault(str(message["Envelope-To"]), []).append(message)
    return found


def body_text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def calendar_of(message: EmailMessage) -> tuple[str, Calendar]:
    """The attached calendar file's METHOD parameter and its contents, as icalendar reads it."""
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(part.get_param("method")), Calendar.from_ical(payload)
