"""The reader an edition is shown to before it goes out: a made-up one, or a real subscriber.

Previews and test-sends use these; the sending engine builds its own readers from the rows
it claims, with the same signed links.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.audience import reach, tokens
from dispatch.audience.models import Subscriber
from dispatch.audience.receipts import already_received
from dispatch.config import Settings
from dispatch.editions.models import Edition
from dispatch.editions.views import RecipientView


def reader_topics(
    session: Session, subscriber_id: int, *, frequency: str | None = None
) -> frozenset[str]:
    """The topics a subscriber follows (at `frequency`, when given): their digest sections."""
    found = reach.followed_topics(session, [subscriber_id], frequency=frequency)
    return frozenset(found.get(subscriber_id, ()))


def _placeholder_link(settings: Settings, purpose: str) -> str:
    # Not signed: clicking one in a preview or test shows "link not valid", never changes
    # anyone's subscription.
    return f"{settings.app.base_url.rstrip('/')}/{purpose}/preview"


def edition_topics(edition: Edition) -> frozenset[str]:
    """Every topic of the edition's items: a digest preview shows all its sections."""
    return frozenset(topic.slug for link in edition.items for topic in link.item.topics)


def sample_reader(
    settings: Settings, edition: Edition, *, locale: str, email: str = "", name: str | None = None
) -> RecipientView:
    """A made-up reader following every topic of the edition, with links that change nothing."""
    if name is None:
        name = "Camille Exemple" if locale == "fr" else "Sam Example"
    return RecipientView(
        email=email or "lectrice@example.org",
        name=name,
        locale=locale,
        unsubscribe_url=_placeholder_link(settings, "unsubscribe"),
        preferences_url=_placeholder_link(settings, "preferences"),
        topics=edition_topics(edition),
    )


def subscriber_reader(
    session: Session, settings: Settings, edition: Edition, subscriber: Subscriber
) -> RecipientView:
    """A real subscriber as the sending engine would address them (signed links, their
    topics, and without the items they already received unless the edition goes whole)."""
    frequency = (
        (edition.audience or {}).get("frequency") if edition.kind in ("digest", "alert") else None
    )
    left_out: frozenset[int] = frozenset()
    if edition.kind in ("newsletter", "alert", "digest") and not edition.send_whole:
        had = already_received(
            session,
            [subscriber.id],
            [link.item_id for link in edition.items],
            besides_edition=edition.id,
        )
        left_out = had.get(subscriber.id, frozenset())
    return RecipientView(
        email=subscriber.email,
        name=subscriber.name,
        locale=i18n.normalise_locale(subscriber.locale),
        unsubscribe_url=tokens.unsubscribe_url(settings, subscriber.id),
        preferences_url=tokens.preferences_url(settings, subscriber.id),
        topics=reader_topics(session, subscriber.id, frequency=frequency),
        left_out=left_out,
    )


def find_subscriber(session: Session, address: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == address.strip().lower()))


def proof_reader(
    session: Session, settings: Settings, edition: Edition, address: str
) -> RecipientView:
    """A subscriber gets their own links (the ones they receive anyway); anyone else gets
    links that change nothing."""
    subscriber = find_subscriber(session, address)
    if subscriber is not None:
        return subscriber_reader(session, settings, edition, subscriber)
    locale = i18n.normalise_locale(edition.locale or settings.app.default_locale)
    return sample_reader(settings, edition, locale=locale, email=address, name="")
