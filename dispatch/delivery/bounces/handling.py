"""Acting on bounces and complaints: delivery rows, subscribers and the suppression list.

A hard bounce marks the delivery bounced and suppresses the address; soft bounces count on
the subscriber until `mail.soft_bounce_threshold`, then suppress too; a complaint (ARF)
suppresses at once. Each mailbox message is applied once: its `source_ref` is unique in
`bounce_events`, so reading the mailbox again changes nothing.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience import service as audience_service
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.delivery import verp
from dispatch.delivery.bounces.mailbox import BounceMailbox, ImapInbox, MaildirInbox
from dispatch.delivery.bounces.reports import BounceKind, BounceReport, classify
from dispatch.delivery.models import BounceEvent, Delivery

log = logging.getLogger(__name__)


@dataclass
class ProcessSummary:
    """What one pass over the bounce mailbox did."""

    read: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    suppressed: int = 0
    unmatched: int = 0
    ignored: int = 0  # neither bounce nor complaint (auto-replies, people writing back)
    already_done: int = 0
    unreadable: int = 0  # left in the mailbox for staff to look at
    unsubscribed: int = 0  # readers who wrote to the List-Unsubscribe mailto

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _subscribers_for(
    session: Session, report: BounceReport
) -> tuple[Delivery | None, list[Subscriber]]:
    delivery = session.get(Delivery, report.delivery_id) if report.delivery_id else None
    if delivery is not None and delivery.subscriber_id is not None:
        person = session.get(Subscriber, delivery.subscriber_id)
        if person is not None:
            return delivery, [person]
    addresses = sorted({a.strip().lower() for a in report.recipients if a})
    if not addresses:
        return delivery, []
    people = session.scalars(select(Subscriber).where(Subscriber.email.in_(addresses))).all()
    return delivery, list(people)


def apply_report(
    session: Session, settings: Settings, report: BounceReport, *, source_ref: str
) -> str:
    """Apply one report; returns what happened: hard, soft, complaint, suppressed (a soft
    bounce that reached the threshold), unmatched or already_done. Flushes."""
    if session.scalar(select(BounceEvent.id).where(BounceEvent.source_ref == source_ref)):
        return "already_done"
    delivery, people = _subscribers_for(session, report)
    outcome = report.kind.value
    if report.kind is BounceKind.HARD and delivery is not None:
        delivery.status = "bounced"
        delivery.error = f"bounced: {report.status or ''} {report.diagnostic}".strip()[:2000]
    for person in people:
        if report.kind is BounceKind.COMPLAINT:
            audience_service.mark_complained(
                session, settings, person.id, origin=Origin("complaint")
            )
        else:
            hard = report.kind is BounceKind.HARD
            was = person.status
            now = audience_service.mark_bounced(
                session, settings, person.id, hard=hard, origin=Origin("bounce")
            )
            if not hard and now == "bounced" and was != "bounced":
                outcome = "suppressed"
    if not people:
        outcome = "unmatched"
    session.add(
        BounceEvent(
            delivery_id=delivery.id if delivery else None,
            subscriber_id=people[0].id if people else None,
            kind=report.kind.value,
            status_code=report.status,
            diagnostic=report.diagnostic[:2000] or None,
            source_ref=source_ref[:300],
        )
    )
    session.flush()
    return outcome


def process_messages(
    sessions: sessionmaker[Session],
    settings: Settings,
    mailbox: BounceMailbox,
    *,
    source: str,
) -> ProcessSummary:
    """Read every unprocessed message of `mailbox`, apply it (one transaction each), then
    mark it processed. A message that cannot be read stays in the mailbox."""
    summary = ProcessSummary()
    for key, data in mailbox.iter_messages():
        summary.read += 1
        subscriber_id = unsubscribe_request(data, settings)
        if subscriber_id is not None:
            with sessions() as session, session.begin():
                if apply_unsubscribe(session, settings, subscriber_id):
                    summary.unsubscribed += 1
            mailbox.mark_processed(key)
            continue
        try:
            report = classify(
                data, verp_secret=settings.secret_key, bounce_domain=settings.bounce_domain
            )
        except Exception:  # a malformed message must not stop the others
            log.exception("cannot read bounce message %s", key)
            summary.unreadable += 1
            continue
        if report is None:
            summary.ignored += 1
        else:
            with sessions() as session, session.begin():
                outcome = apply_report(session, settings, report, source_ref=f"{source}:{key}")
            counter = _COUNTERS[outcome]
            setattr(summary, counter, getattr(summary, counter) + 1)
            if outcome in ("hard", "complaint", "suppressed"):
                summary.suppressed += 1
        mailbox.mark_processed(key)
    return summary


_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def unsubscribe_request(data: bytes, settings: Settings) -> int | None:
    """The subscriber asking to leave by writing to the List-Unsubscribe mailto, if any."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    if message.get_content_type() == "multipart/report":
        return None  # a bounce quoting our headers is not a request from the reader
    for name in _RECIPIENT_HEADERS:
        for value in message.get_all(name, []):
            found = verp.decode_unsubscribe(str(value), settings.secret_key)
            if found is not None:
                return found
    return None


def apply_unsubscribe(session: Session, settings: Settings, subscriber_id: int) -> bool:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return False
    return audience_service.unsubscribe(
        session, settings, subscriber, Origin(source="email: List-Unsubscribe mailto")
    )


_COUNTERS = {
    "hard": "hard",
    "soft": "soft",
    "suppressed": "soft",
    "complaint": "complaints",
    "unmatched": "unmatched",
    "already_done": "already_done",
}


def mailbox_configured(settings: Settings) -> bool:
    return bool(settings.mail.imap_host or settings.mail.bounce_maildir)


@contextlib.contextmanager
def open_mailbox(settings: Settings) -> Iterator[tuple[BounceMailbox, str]]:
    """The configured bounce mailbox and a name for it: IMAP when `imap_host` is set,
    else the Maildir folder. Raises ValueError when neither is configured."""
    mail = settings.mail
    if mail.imap_host:
        password = mail.imap_password.get_secret_value() if mail.imap_password else ""
        with ImapInbox(
            mail.imap_host,
            mail.imap_port,
            mail.imap_username,
            password,
            folder=mail.imap_folder,
            ssl=mail.imap_ssl,
        ) as inbox:
            yield inbox, f"imap:{mail.imap_host}/{mail.imap_folder}"
        return
    if mail.bounce_maildir:
        yield MaildirInbox(mail.bounce_maildir), f"maildir:{mail.bounce_maildir}"
        return
    raise ValueError(
        "No bounce mailbox is configured: set mail.bounce_maildir (a Maildir folder) or "
        "mail.imap_host (with imap_username and DISPATCH_MAIL__IMAP_PASSWORD)."
    )


def process_bounces(sessions: sessionmaker[Session], settings: Settings) -> ProcessSummary:
    """One pass over the configured bounce mailbox."""
    with open_mailbox(settings) as (mailbox, source):
        return process_messages(sessions, settings, mailbox, source=source)
