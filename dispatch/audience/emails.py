"""The emails a person asks for: the confirmation (double opt-in), the welcome, the link.

Composed from `templates/email/{confirm,welcome,preferences-link}` in the subscriber's
language and handed to the mail path chosen by settings (outbox folder or SMTP). Sending is
idempotent: the request stamps `*_requested_at`, sending stamps `*_sent_at`, and a second run
sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience import tokens
from dispatch.audience.models import Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery.paths import mail_transport as transport_for
from dispatch.delivery.paths import message_factory
from dispatch.delivery.transport import MailTransport, SendOutcome
from dispatch.editions.compose import CompiledEdition, compile_edition, personalise
from dispatch.editions.service import branding
from dispatch.editions.views import Branding, EditionView, RecipientView
from dispatch.i18n import normalise_locale

Kind = Literal["confirm", "link", "welcome"]
__all__ = [
    "SendOutcome",
    "build_message",
    "send_confirmation",
    "send_preferences_link",
    "send_welcome",
    "transport_for",
]


def envelope_from(settings: Settings) -> str:
    return f"{settings.mail.bounce_local_part}@{settings.bounce_domain}"


_TEMPLATES = {"confirm": "confirm", "link": "preferences-link", "welcome": "welcome"}


@lru_cache(maxsize=32)
def _compiled(kind: Kind, locale: str, brand: Branding) -> CompiledEdition:
    """Each transactional email is compiled once per language and process, like any edition."""
    template = _TEMPLATES[kind]
    return compile_edition(
        EditionView(kind=template, subject="", locale=locale, key=f"{template}-{locale}"),  # type: ignore[arg-type]
        brand,
        template=template,
    )


def build_message(
    settings: Settings,
    *,
    kind: Kind,
    subscriber: Subscriber,
    url: str,
    now: datetime | None = None,
) -> bytes:
    """The final message bytes, from the same templates and MIME builder as every edition."""
    locale = normalise_locale(subscriber.locale)
    compiled = _compiled(kind, locale, branding(settings))
    recipient = RecipientView(
        email=subscriber.email,
        name=subscriber.name,
        locale=locale,
        unsubscribe_url=tokens.unsubscribe_url(settings, subscriber.id),
        preferences_url=url if kind == "link" else tokens.preferences_url(settings, subscriber.id),
        confirm_url=url if kind == "confirm" else "",
        topics=frozenset(),
    )
    built = message_factory(settings).build(
        personalise(compiled, recipient),
        envelope_from=envelope_from(settings),
        date=now.timestamp() if now else None,
    )
    return built.data


@dataclass(frozen=True)
class Prepared:
    """An email ready to go: who, what kind, and the final bytes."""

    kind: Kind
    subscriber_id: int
    recipient: str
    message: bytes


_SENT_COLUMN = {
    "confirm": "confirmation_sent_at",
    "link": "link_sent_at",
    "welcome": "welcome_sent_at",
}


def prepare(
    session: Session, settings: Settings, kind: Kind, subscriber_id: int
) -> Prepared | None:
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
    else:
        if (
            subscriber.status != "active"
            or subscriber.confirmed_at is None
            or not _due(subscriber.confirmed_at, subscriber.welcome_sent_at)
        ):
            return None
        url = tokens.preferences_url(settings, subscriber.id)
    if kind != "confirm" and is_suppressed(session, settings, subscriber.email):
        return None
    message = build_message(settings, kind=kind, subscriber=subscriber, url=url)
    return Prepared(kind, subscriber.id, subscriber.email, message)


def deliver(settings: Settings, prepared: Prepared, transport: MailTransport) -> SendOutcome:
    """Hand the message to the mail path; no database work, so no transaction is held."""
    with transport:
        return transport.send(envelope_from(settings), prepared.recipient, prepared.message)


def record_sent(session: Session, prepared: Prepared) -> None:
    """Stamp the sending, so that a second run of the same request sends nothing."""
    subscriber = session.get(Subscriber, prepared.subscriber_id)
    if subscriber is not None:
        setattr(subscriber, _SENT_COLUMN[prepared.kind], utcnow())
        session.flush()


def send(
    session: Session, settings: Settings, kind: Kind, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Prepare, send and record in one go (staff commands); None when nothing is due."""
    prepared = prepare(session, settings, kind, subscriber_id)
    if prepared is None:
        return None
    outcome = deliver(settings, prepared, transport)
    if outcome.ok:
        record_sent(session, prepared)
    return outcome


def send_confirmation(
    session: Session, settings: Settings, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Send the confirm link if one was requested since the last sending; None if not due."""
    return send(session, settings, "confirm", subscriber_id, transport)


def send_preferences_link(
    session: Session, settings: Settings, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Send the preferences link if one was requested since the last sending."""
    return send(session, settings, "link", subscriber_id, transport)


def send_welcome(
    session: Session, settings: Settings, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Welcome a newly confirmed subscriber, once."""
    return send(session, settings, "welcome", subscriber_id, transport)


def _due(requested: datetime | None, sent: datetime | None) -> bool:
    return requested is not None and (sent is None or sent < requested)


SWEEP_GRACE = timedelta(minutes=5)


def unsent(session: Session, *, now: datetime | None = None) -> list[tuple[str, int]]:
    """Requested emails not sent after a grace period: (task name, subscriber id) pairs.

    The request rows are the truth; a task lost with a killed worker is simply asked again,
    and the senders' own checks make a duplicate request send nothing twice.
    """
    cutoff = (now or utcnow()) - SWEEP_GRACE
    s = Subscriber
    wanted = [
        (
            "audience.send_confirmation",
            (s.status == "pending")
            & (s.confirm_requested_at < cutoff)
            & (
                s.confirmation_sent_at.is_(None) | (s.confirmation_sent_at < s.confirm_requested_at)
            ),
        ),
        (
            "audience.send_preferences_link",
            (s.status == "active")
            & (s.link_requested_at < cutoff)
            & (s.link_sent_at.is_(None) | (s.link_sent_at < s.link_requested_at)),
        ),
        (
            "audience.send_welcome",
            (s.status == "active")
            & (s.confirmed_at < cutoff)
            & (s.confirmed_at > cutoff - timedelta(days=2))
            & s.welcome_sent_at.is_(None),
        ),
    ]
    return [
        (task, subscriber_id)
        for task, condition in wanted
        for subscriber_id in session.scalars(select(s.id).where(condition).limit(500))
    ]
