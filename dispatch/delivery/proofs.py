"""Proofs: an edition as one reader will receive it, before it goes out — previewed as bytes,
or test-sent to staff addresses.

Both use the edition as the engine prepares it (`dispatch.delivery.prepared`) and the same
MIME factory and mail path, so what staff look at is what subscribers receive. A test-send
writes no delivery row and changes no edition status; it still follows the audience rule: an
address that must not be mailed (suppressed, or a subscriber who paused or never confirmed)
gets no test either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.audience import reach
from dispatch.audience.addresses import InvalidInputError, normalise_email
from dispatch.config import Settings
from dispatch.delivery.mime import HeaderError
from dispatch.delivery.prepared import PreparedEdition, prepare
from dispatch.delivery.transport import MailTransport, for_settings
from dispatch.editions import readers
from dispatch.editions.compose import (
    CompiledEdition,
    CompositionError,
    RenderedMessage,
    personalise,
)
from dispatch.editions.drafts import get_edition
from dispatch.editions.errors import DraftError
from dispatch.editions.models import Edition
from dispatch.editions.views import RecipientView


@dataclass(frozen=True, slots=True)
class Preview:
    """One edition as one reader receives it: the personalised parts and the final bytes."""

    edition_id: int
    locale: str
    recipient: RecipientView
    rendered: RenderedMessage
    eml: bytes

    @property
    def subject(self) -> str:
        return self.rendered.subject


@dataclass(frozen=True, slots=True)
class TestSendResult:
    address: str
    ok: bool
    detail: str  # where the outbox wrote it, or the server's reply / what went wrong


def _prepared(session: Session, settings: Settings, edition: Edition) -> PreparedEdition:
    try:
        return prepare(session, edition.id, settings)
    except CompositionError as error:
        raise DraftError(f"Edition {edition.id} cannot be composed: {error}") from error


def _compiled_for(prepared: PreparedEdition, locale: str) -> CompiledEdition:
    return prepared.compilation.for_locale(locale)


def preview(
    session: Session,
    settings: Settings,
    edition_id: int,
    *,
    locale: str | None = None,
    as_email: str | None = None,
) -> Preview:
    """The edition as a sample reader (or the subscriber `as_email`) would receive it."""
    edition = get_edition(session, edition_id)
    reader: RecipientView
    if as_email:
        subscriber = readers.find_subscriber(session, as_email)
        if subscriber is None:
            raise DraftError(f"No subscriber with the address {as_email}.")
        reader = readers.subscriber_reader(session, settings, edition, subscriber)
        chosen = locale or reader.locale
    else:
        chosen = locale or edition.locale or settings.app.default_locale
        reader = readers.sample_reader(settings, edition, locale=i18n.normalise_locale(chosen))
    chosen = i18n.normalise_locale(chosen)
    prepared = _prepared(session, settings, edition)
    compiled = _compiled_for(prepared, chosen)
    if not compiled.has_content_for(reader):
        raise DraftError(
            f"{reader.email} would not receive this edition: nothing in it is both in their "
            "topics and new to them."
        )
    rendered = personalise(compiled, reader)
    try:
        built = prepared.factory.build(rendered)
    except HeaderError as error:
        raise DraftError(f"The message cannot be built: {error}") from error
    return Preview(edition.id, chosen, reader, rendered, built.data)


def check_addresses(addresses: Iterable[str]) -> list[str]:
    """Validated, normalised, de-duplicated addresses; DraftError naming every bad one."""
    good: list[str] = []
    bad: list[str] = []
    for raw in addresses:
        for part in raw.split(","):
            if not part.strip():
                continue
            try:
                address = normalise_email(part)
            except InvalidInputError as error:
                bad.append(f"{part.strip()!r}: {error}")
                continue
            if address not in good:
                good.append(address)
    if bad:
        raise DraftError("Not an email address: " + "; ".join(bad))
    if not good:
        raise DraftError("Give at least one address with --to.")
    return good


def send_test(
    session: Session,
    settings: Settings,
    edition_id: int,
    addresses: Sequence[str],
    *,
    transport: MailTransport | None = None,
    locale: str | None = None,
) -> list[TestSendResult]:
    """Send the edition to `addresses` through the configured mail path, marked as a test
    ("[Test]" subject, ``X-Dispatch-Test: yes``), as a reader of `locale` reads it (each
    address's own language if None)."""
    edition = get_edition(session, edition_id)
    targets = check_addresses(addresses)
    prepared = _prepared(session, settings, edition)
    sender = f"{settings.mail.bounce_local_part}@{settings.bounce_domain}"
    results: list[TestSendResult] = []
    with transport or for_settings(settings) as path:
        for address in targets:
            refused = reach.why_not_address(session, settings, address)
            if refused is not None:
                results.append(TestSendResult(address, False, f"not sent: {refused}"))
                continue
            reader = readers.proof_reader(session, settings, edition, address)
            compiled = _compiled_for(prepared, locale or reader.locale)
            if compiled.by_topic and not compiled.has_content_for(reader):
                # Staff testing a digest see every section, whatever they follow themselves.
                reader = replace(reader, topics=readers.edition_topics(edition))
            try:
                built = prepared.factory.build(personalise(compiled, reader), test=True)
            except HeaderError as error:
                results.append(TestSendResult(address, False, str(error)))
                continue
            outcome = path.send(sender, built.recipient, built.data)
            results.append(TestSendResult(address, outcome.ok, outcome.summary()))
    return results
