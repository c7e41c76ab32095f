"""Acting on bounces and complaints: delivery rows, subscribers and the suppression list.

A report acts only on the delivery it proves, through the signed VERP return path or the
signed `X-Dispatch-Delivery` header (checked by `reports.classify`, or by whoever built the
report, such as a provider's signed webhook): anyone can write to the bounce mailbox, so the
addresses a message names prove nothing. A report without that proof is held for staff
(`held.py`) and suppresses nobody by itself.

A proven hard bounce marks the delivery bounced and suppresses the address; soft bounces
count on the subscriber until `mail.soft_bounce_threshold`, then suppress too; a complaint
(ARF) suppresses at once. Each mailbox message is applied once: its `source_ref` is unique
in `bounce_events` and `held_reports`, so reading the mailbox again changes nothing. A
message too large to read, or that cannot be parsed, is moved aside once with its reason.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch import audit
from dispatch.audience import service as audience_service
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.delivery import verp
from dispatch.delivery.bounces import held
from dispatch.delivery.bounces.mailbox import BounceMailbox, ImapInbox, MaildirInbox
from dispatch.delivery.bounces.reports import BounceKind, BounceReport, classify
from dispatch.delivery.models import BounceEvent, Delivery, HeldReport

log = logging.getLogger(__name__)


@dataclass
class ProcessSummary:
    """What one pass over the bounce mailbox did."""

    read: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    suppressed: int = 0
    unmatched: int = 0  # proven, but the delivery's reader is gone (erased)
    held: int = 0  # no proof of delivery: waiting for staff (`dispatch bounces held`)
    ignored: int = 0  # neither bounce nor complaint (auto-replies, people writing back)
    already_done: int = 0
    unreadable: int = 0  # too large or unparseable: moved aside, held with the reason
    unsubscribed: int = 0  # readers who wrote to the List-Unsubscribe mailto

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _already_done(session: Session, source_ref: str) -> bool:
    done = session.scalar(select(BounceEvent.id).where(BounceEvent.source_ref == source_ref))
    return done is not None or held.is_held(session, source_ref)


def _act(
    session: Session,
    settings: Settings,
    kind: BounceKind,
    people: Sequence[Subscriber],
    origin: Origin,
) -> str:
    """Apply one bounce or complaint to `people`: the outcome (hard, soft, complaint, or
    suppressed for a soft bounce that reached the threshold)."""
    outcome = kind.value
    for person in people:
        if kind is BounceKind.COMPLAINT:
            audience_service.mark_complained(session, settings, person.id, origin=origin)
            continue
        hard = kind is BounceKind.HARD
        was = person.status
        now = audience_service.mark_bounced(session, settings, person.id, hard=hard, origin=origin)
        if not hard and now == "bounced" and was != "bounced":
            outcome = "suppressed"
    return outcome


def apply_report(
    session: Session, settings: Settings, report: BounceReport, *, source_ref: str
) -> str:
    """Apply one report whose `delivery_id`, when set, is proven (signed): returns what
    happened: hard, soft, complaint, suppressed (a soft bounce that reached the threshold),
    unmatched (the delivery's reader is gone), held (no proof: kept for staff, nobody
    touched) or already_done. Flushes."""
    if _already_done(session, source_ref):
        return "already_done"
    delivery = session.get(Delivery, report.delivery_id) if report.delivery_id else None
    if delivery is None:
        reason = held.NO_PROOF if report.delivery_id is None else "its delivery no longer exists"
        held.hold(session, report, source_ref=source_ref, reason=reason)
        return "held"
    person = session.get(Subscriber, delivery.subscriber_id) if delivery.subscriber_id else None
    if report.kind is BounceKind.HARD:
        delivery.status = "bounced"
        delivery.error = f"bounced: {report.status or ''} {report.diagnostic}".strip()[:2000]
    origin = Origin("complaint" if report.kind is BounceKind.COMPLAINT else "bounce")
    outcome = _act(session, settings, report.kind, [person] if person else [], origin)
    session.add(
        BounceEvent(
            delivery_id=delivery.id,
            subscriber_id=person.id if person else None,
            kind=report.kind.value,
            status_code=report.status,
            diagnostic=report.diagnostic[:2000] or None,
            source_ref=source_ref[:300],
        )
    )
    session.flush()
    return outcome if person is not None else "unmatched"


def apply_held(session: Session, settings: Settings, held_id: int) -> HeldReport:
    """Staff vouch for a held report: it acts on the subscribers with the addresses it
    names, as a proven one would. `HeldReportError` when there is nothing to apply."""
    row = held.waiting(session, held_id)
    if row.kind == "unreadable":
        raise held.HeldReportError(
            f"held report {held_id} is a message that could not be read: there is nothing to "
            "apply (look at it in the mailbox, then discard it)"
        )
    addresses = sorted({a.strip().lower() for a in row.recipients.split("\n") if a.strip()})
    people = (
        list(session.scalars(select(Subscriber).where(Subscriber.email.in_(addresses))))
        if addresses
        else []
    )
    kind = BounceKind(row.kind)
    origin = Origin(
        f"{'complaint' if kind is BounceKind.COMPLAINT else 'bounce'}, applied by staff"
    )
    before = {person.id: person.status for person in people}
    _act(session, settings, kind, people, origin)
    for person in people:
        session.add(
            BounceEvent(
                subscriber_id=person.id,
                kind=row.kind,
                status_code=row.status_code,
                diagnostic=row.diagnostic,
                source_ref=f"held:{row.id}:{person.id}",
            )
        )
    changes = [f"{p.email}: {before[p.id]} → {p.status}" for p in people]
    held.resolve(row, "applied", "; ".join(changes) or "no subscriber has these addresses")
    audit.record(
        session,
        "bounce.held_applied",
        object_type="held_report",
        object_id=row.id,
        summary={"kind": row.kind, "changes": changes},
    )
    return row


def process_messages(
    sessions: sessionmaker[Session],
    settings: Settings,
    mailbox: BounceMailbox,
    *,
    source: str,
) -> ProcessSummary:
    """Read every unprocessed message of `mailbox`, apply it (one transaction each), then
    mark it processed. A message too large to read or that cannot be parsed is held with
    its reason and moved aside, once."""
    summary = ProcessSummary()
    limit = settings.mail.bounce_max_bytes
    for key, size in mailbox.oversized():
        summary.read += 1
        _set_aside(
            sessions,
            mailbox,
            key,
            source_ref=f"{source}:{key}",
            reason=f"too large to read: {size:,} bytes, over mail.bounce_max_bytes ({limit:,})",
        )
        summary.unreadable += 1
    for key, data in mailbox.iter_messages():
        summary.read += 1
        try:
            subscriber_id = unsubscribe_request(data, settings)
            report = None
            if subscriber_id is None:
                report = classify(
                    data, verp_secret=settings.secret_key, bounce_domain=settings.bounce_domain
                )
        except Exception as error:  # a malformed message must not stop the others
            log.warning("cannot read bounce message %s: %r", key, error)
            _set_aside(
                sessions,
                mailbox,
                key,
                source_ref=f"{source}:{key}",
                reason=f"cannot be read: {type(error).__name__}: {error}"[:1000],
            )
            summary.unreadable += 1
            continue
        if subscriber_id is not None:
            with sessions() as session, session.begin():
                if apply_unsubscribe(session, settings, subscriber_id):
                    summary.unsubscribed += 1
        elif report is None:
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


def _set_aside(
    sessions: sessionmaker[Session],
    mailbox: BounceMailbox,
    key: str,
    *,
    source_ref: str,
    reason: str,
) -> None:
    # The row first: a crash before the move finds it held already and only moves it.
    with sessions() as session, session.begin():
        held.hold_unreadable(session, source_ref=source_ref, reason=reason)
    where = mailbox.set_aside(key)
    log.warning("bounce message %s set aside in %s: %s", key, where, reason)


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
    "held": "held",
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
            max_bytes=mail.bounce_max_bytes,
            aside_folder=mail.bounce_unreadable_folder,
        ) as inbox:
            yield inbox, f"imap:{mail.imap_host}/{mail.imap_folder}"
        return
    if mail.bounce_maildir:
        maildir = MaildirInbox(
            mail.bounce_maildir,
            max_bytes=mail.bounce_max_bytes,
            aside_folder=mail.bounce_unreadable_folder,
        )
        yield maildir, f"maildir:{mail.bounce_maildir}"
        return
    raise ValueError(
        "No bounce mailbox is configured: set mail.bounce_maildir (a Maildir folder) or "
        "mail.imap_host (with imap_username and DISPATCH_MAIL__IMAP_PASSWORD)."
    )


def process_bounces(sessions: sessionmaker[Session], settings: Settings) -> ProcessSummary:
    """One pass over the configured bounce mailbox."""
    with open_mailbox(settings) as (mailbox, source):
        return process_messages(sessions, settings, mailbox, source=source)
