"""The emails a person asks for, built and sent: the confirmation (double opt-in), the
welcome, the preferences link, the re-permission email before a purge (« Je reste
abonné·e »); and for staff, the invitation and the password reset.

Composed from `templates/email/{confirm,welcome,preferences-link,repermission}` in the
subscriber's language, compiled once per language and process like any edition, built by the
same MIME factory (DKIM included) and handed to the mail path chosen by settings. What is due
and the stamp once sent are the audience's rows (`dispatch.audience.mail_requests`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from sqlalchemy.orm import Session

from dispatch.audience import mail_requests, tokens
from dispatch.audience.mail_requests import Kind
from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.delivery.mime import envelope_address, message_factory
from dispatch.delivery.transport import MailTransport, SendOutcome, for_settings
from dispatch.editions.compose import CompiledEdition, compile_edition, personalise
from dispatch.editions.service import branding
from dispatch.editions.views import Branding, EditionView, RecipientView
from dispatch.i18n import normalise_locale

_TEMPLATES = {
    "confirm": "confirm",
    "link": "preferences-link",
    "welcome": "welcome",
    "repermission": "repermission",
    "staff-invite": "staff-invite",
    "staff-reset": "staff-reset",
}
StaffKind = Literal["staff-invite", "staff-reset"]


def envelope_from(settings: Settings) -> str:
    return f"{settings.mail.bounce_local_part}@{settings.bounce_domain}"


@lru_cache(maxsize=32)
def _compiled(kind: Kind | StaffKind, locale: str, brand: Branding) -> CompiledEdition:
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
        # Before the address is confirmed, its owner may not be who typed the form: nothing
        # the visitor wrote (the name) goes into the email, greeting and To header alike.
        name="" if kind == "confirm" else subscriber.name,
        locale=locale,
        unsubscribe_url=tokens.unsubscribe_url(settings, subscriber.id),
        preferences_url=url if kind == "link" else tokens.preferences_url(settings, subscriber.id),
        # The one button of the email: confirm, or « Je reste abonné·e ».
        confirm_url=url if kind in ("confirm", "repermission") else "",
        topics=frozenset(),
    )
    built = message_factory(settings).build(
        personalise(compiled, recipient),
        envelope_from=envelope_from(settings),
        date=now.timestamp() if now else None,
    )
    return built.data


def build_staff_message(
    settings: Settings, *, kind: StaffKind, email: str, name: str, locale: str, url: str
) -> bytes:
    """An invitation or a password reset for a staff member; `url` is their one-time link."""
    code = normalise_locale(locale)
    compiled = _compiled(kind, code, branding(settings))
    recipient = RecipientView(
        email=email,
        name=name,
        locale=code,
        unsubscribe_url="",
        preferences_url="",
        confirm_url=url,
        topics=frozenset(),
    )
    return (
        message_factory(settings)
        .build(personalise(compiled, recipient), envelope_from=envelope_from(settings))
        .data
    )


def send_once(settings: Settings, recipient: str, message: bytes) -> SendOutcome:
    """One message to one address through the configured mail path."""
    return deliver_bytes(settings, recipient, message, for_settings(settings))


def deliver_bytes(
    settings: Settings, recipient: str, message: bytes, transport: MailTransport
) -> SendOutcome:
    with transport:
        return transport.send(envelope_from(settings), recipient, message)


@dataclass(frozen=True)
class Prepared:
    """An email ready to go: who, what kind, and the final bytes."""

    kind: Kind
    subscriber_id: int
    recipient: str
    message: bytes


def prepare(
    session: Session, settings: Settings, kind: Kind, subscriber_id: int
) -> Prepared | None:
    """The email of `kind` if it is due (requested and not yet sent); reads only."""
    found = mail_requests.due(session, settings, kind, subscriber_id)
    if found is None:
        return None
    person = found.subscriber
    message = build_message(settings, kind=kind, subscriber=person, url=found.url)
    return Prepared(kind, person.id, envelope_address(person.email), message)


def deliver(settings: Settings, prepared: Prepared, transport: MailTransport) -> SendOutcome:
    """Hand the message to the mail path; no database work, so no transaction is held."""
    return deliver_bytes(settings, prepared.recipient, prepared.message, transport)


def record_sent(session: Session, prepared: Prepared) -> None:
    mail_requests.record_sent(session, prepared.kind, prepared.subscriber_id)


def send(
    session: Session, settings: Settings, kind: Kind, subscriber_id: int, transport: MailTransport
) -> SendOutcome | None:
    """Prepare, send and record in one go; None when nothing is due."""
    prepared = prepare(session, settings, kind, subscriber_id)
    if prepared is None:
        return None
    outcome = deliver(settings, prepared, transport)
    if outcome.ok:
        record_sent(session, prepared)
    return outcome
