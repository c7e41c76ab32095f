"""What staff read about an edition's audience: who will receive it before it goes, and how
it went afterwards, per language.

Before: the same audience rule the snapshot applies (`snapshot.audience_of`), counted in the
database by language and by topic. After: the ledger's rows, the bounce events that name
them, and the unsubscribes the edition caused. An unsubscribe link carries only the reader,
not the edition, so the consent ledger does not record which letter made someone leave: an
unsubscribe counts for the last edition that reached the reader before they left (nothing
else reached them in between), which is the edition whose footer they used in practice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from dispatch.audience.models import ConsentEvent, Preference, Subscriber
from dispatch.content.models import Topic
from dispatch.db import utcnow
from dispatch.delivery.models import BounceEvent, Delivery
from dispatch.delivery.snapshot import audience_of
from dispatch.editions.models import Edition

#: The language of rows whose reader was erased since.
UNKNOWN = "?"
RESULT_KEYS = ("sent", "delivered", "failed", "bounced", "complaints", "unsubscribes", "skipped")


@dataclass
class AudienceCount:
    """Who an edition reaches if it goes now: total, by language, by followed topic."""

    total: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    # topic slug -> (name, readers of the audience who follow it); a reader may follow several.
    by_topic: list[tuple[str, str, int]] = field(default_factory=list)


def audience_count(
    session: Session, edition: Edition, *, locale: str = "fr", now: datetime | None = None
) -> AudienceCount:
    """The exact count the snapshot would write now, by language and by topic."""
    now = now or utcnow()
    conditions = audience_of(edition, now)
    count = AudienceCount()
    for language, n in session.execute(
        select(Subscriber.locale, func.count()).where(*conditions).group_by(Subscriber.locale)
    ):
        count.by_language[language or UNKNOWN] = n
        count.total += n
    wanted = list((edition.audience or {}).get("topics") or [])
    topics = select(Topic).order_by(Topic.position, Topic.slug)
    if wanted:
        topics = topics.where(Topic.slug.in_(wanted))
    for topic in session.scalars(topics):
        followers = session.scalar(
            select(func.count()).where(
                *conditions,
                exists(
                    select(Preference.subscriber_id).where(
                        Preference.subscriber_id == Subscriber.id, Preference.topic_id == topic.id
                    )
                ),
            )
        )
        count.by_topic.append((topic.slug, topic.name(locale), followers or 0))
    return count


def _bump(table: dict[str, dict[str, int]], language: str | None, key: str, n: int) -> None:
    row = table.setdefault(language or UNKNOWN, dict.fromkeys(RESULT_KEYS, 0))
    row[key] += n


def edition_results(session: Session, edition_id: int) -> dict[str, dict[str, int]]:
    """Language -> sent, delivered, failed, bounced, complaints, unsubscribes, skipped; the
    key "all" sums every language. Sent counts messages the mail server accepted; delivered,
    those of them not bounced since."""
    table: dict[str, dict[str, int]] = {}
    by_status = (
        select(Subscriber.locale, Delivery.status, func.count())
        .select_from(Delivery)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.edition_id == edition_id)
        .group_by(Subscriber.locale, Delivery.status)
    )
    for language, status, n in session.execute(by_status):
        if status in ("sent", "bounced"):
            _bump(table, language, "sent", n)
        elif status in ("failed", "skipped"):
            _bump(table, language, status, n)
    for kind, key in ((("hard", "soft"), "bounced"), (("complaint",), "complaints")):
        events = (
            select(Subscriber.locale, func.count(func.distinct(BounceEvent.delivery_id)))
            .select_from(BounceEvent)
            .join(Delivery, Delivery.id == BounceEvent.delivery_id)
            .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.edition_id == edition_id, BounceEvent.kind.in_(kind))
            .group_by(Subscriber.locale)
        )
        for language, n in session.execute(events):
            _bump(table, language, key, n)
    for language, n in session.execute(_unsubscribes(edition_id)):
        _bump(table, language, "unsubscribes", n)
    for row in table.values():
        row["delivered"] = max(row["sent"] - row["bounced"], 0)
    total = dict.fromkeys(RESULT_KEYS, 0)
    for row in table.values():
        for key in RESULT_KEYS:
            total[key] += row[key]
    return {**dict(sorted(table.items())), "all": total}


def _unsubscribes(edition_id: int):  # type: ignore[no-untyped-def]
    """(language, count) of readers who unsubscribed after this edition reached them and
    before any other did."""
    later = aliased(Delivery)
    return (
        select(Subscriber.locale, func.count(func.distinct(ConsentEvent.subscriber_id)))
        .select_from(ConsentEvent)
        .join(Delivery, Delivery.subscriber_id == ConsentEvent.subscriber_id)
        .join(Subscriber, Subscriber.id == ConsentEvent.subscriber_id)
        .where(
            ConsentEvent.action == "unsubscribe",
            Delivery.edition_id == edition_id,
            Delivery.status == "sent",
            Delivery.sent_at <= ConsentEvent.at,
            ~exists(
                select(later.id).where(
                    and_(
                        later.subscriber_id == Delivery.subscriber_id,
                        later.edition_id != edition_id,
                        later.status == "sent",
                        later.sent_at > Delivery.sent_at,
                        later.sent_at <= ConsentEvent.at,
                    )
                )
            ),
        )
        .group_by(Subscriber.locale)
    )
