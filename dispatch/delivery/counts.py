"""How many readers each item of an edition reaches, and what a digest would be, before sending.

"Once per reader": an alert, a digest or a letter leaves out, per reader, the items that
reader already received (the receipt ledger), unless a letter is to be sent whole; a reader
with nothing new is not sent the edition. These counts apply exactly that rule, in the
database, to the audience the snapshot would take (`snapshot.audience_of`): what the
preview, the API and `dispatch editions digest --dry-run` show is what the engine will do.
Once an edition has started, an item's count is its receipts in that edition: who got it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from dispatch.audience import reach
from dispatch.audience.models import Preference, Receipt, Subscriber
from dispatch.audience.receipts import already_received
from dispatch.content.models import ContentItem, Topic
from dispatch.db import utcnow
from dispatch.delivery.claims import ONCE_PER_READER_KINDS
from dispatch.delivery.snapshot import audience_of
from dispatch.editions import digests
from dispatch.editions.choosing import items_published_between, order_items
from dispatch.editions.models import Edition, EditionItem

#: Readers read per query when a digest plan walks the audience.
_CHUNK = 2000
STARTED_STATUSES = ("sending", "paused", "sent", "cancelled")


def _per_topic(edition: Edition) -> bool:
    spec = edition.audience or {}
    return edition.kind == "digest" or (edition.kind == "alert" and bool(spec.get("topics")))


def _follows(item: ContentItem, frequency: str | None) -> ColumnElement[bool]:
    """The reader follows one of the item's topics (at the edition's rhythm)."""
    query = select(Preference.subscriber_id).where(
        Preference.subscriber_id == Subscriber.id,
        Preference.topic_id.in_([topic.id for topic in item.topics]),
    )
    if frequency:
        query = query.where(Preference.frequency == frequency)
    return exists(query)


def _has(item_id: int, besides_edition: int) -> ColumnElement[bool]:
    return exists(
        select(Receipt.subscriber_id).where(
            Receipt.subscriber_id == Subscriber.id,
            Receipt.item_id == item_id,
            Receipt.edition_id != besides_edition,
        )
    )


def leaves_out_received(edition: Edition) -> bool:
    return edition.kind in ONCE_PER_READER_KINDS and not edition.send_whole


def item_counts(
    session: Session, edition_id: int, *, now: datetime | None = None
) -> dict[int, int]:
    """Item id -> readers who will get it in this edition (who got it, once started)."""
    edition = session.get(Edition, edition_id)
    if edition is None:
        return {}
    links = sorted(edition.items, key=lambda link: link.position)
    if edition.status in STARTED_STATUSES:
        got = dict(
            session.execute(
                select(Receipt.item_id, func.count())
                .where(Receipt.edition_id == edition_id)
                .group_by(Receipt.item_id)
            ).all()
        )
        return {link.item_id: int(got.get(link.item_id, 0)) for link in links}
    now = now or utcnow()
    audience = audience_of(edition, now)
    frequency = (edition.audience or {}).get("frequency")
    counts: dict[int, int] = {}
    for link in links:
        conditions = list(audience)
        if _per_topic(edition):
            conditions.append(_follows(link.item, frequency))
        if leaves_out_received(edition):
            conditions.append(~_has(link.item_id, edition_id))
        counts[link.item_id] = int(
            session.scalar(select(func.count()).select_from(Subscriber).where(*conditions)) or 0
        )
    return counts


def audience_count(session: Session, edition: Edition, *, now: datetime | None = None) -> int:
    """Readers the snapshot would take now (before anyone with nothing new is left out)."""
    conditions = audience_of(edition, now or utcnow())
    return int(session.scalar(select(func.count()).select_from(Subscriber).where(*conditions)) or 0)


# --- Digests on demand --------------------------------------------------------------------


@dataclass
class DigestPlan:
    """What the digest of one period holds and who would get what."""

    period: digests.Period
    key: str
    since: datetime
    until: datetime
    existing_id: int | None
    items: list[ContentItem]
    readers: int = 0  # readers at this rhythm with at least one topic
    receiving: int = 0  # of them, those with something new in their topics
    per_reader: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        shown = self.per_reader if limit is None else self.per_reader[:limit]
        return {
            "period": self.period,
            "key": self.key,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "existing_edition": self.existing_id,
            "items": [
                {"id": item.id, "title": item.title, "topics": [t.slug for t in item.topics]}
                for item in self.items
            ],
            "readers": self.readers,
            "receiving": self.receiving,
            "nothing_new": self.readers - self.receiving,
            "per_reader": shown,
        }


def _readers(
    session: Session, period: digests.Period, now: datetime
) -> Iterator[list[tuple[int, str]]]:
    conditions = reach.wanting(frequency=period, now=now)
    after = 0
    while True:
        rows = session.execute(
            select(Subscriber.id, Subscriber.email)
            .where(Subscriber.id > after, *conditions)
            .order_by(Subscriber.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        yield [(row.id, row.email) for row in rows]
        after = rows[-1].id


def plan_digest(session: Session, period: digests.Period, *, at: datetime) -> DigestPlan:
    """The `period` digest due at or before `at`: its items, and per reader what is new.

    Reads only; `digests.create_digest(session, period, now=at)` makes it.
    """
    due = digests.current_period(period, at)
    existing = digests.existing_digest(session, due)
    since = digests.since_for(session, due)
    found = [
        item
        for item in items_published_between(session, since=since, until=due.due_at)
        if item.topics
    ]
    items = order_items(found, now=at)[: digests.MAX_ITEMS]
    plan = DigestPlan(period, due.key, since, due.due_at, existing.id if existing else None, items)
    if not items:
        return plan
    slugs = {topic.id: topic.slug for topic in session.scalars(select(Topic))}
    item_topics = {item.id: {slugs[t.id] for t in item.topics} for item in items}
    for chunk in _readers(session, period, at):
        ids = [reader_id for reader_id, _ in chunk]
        followed = reach.followed_topics(session, ids, frequency=period)
        had = already_received(session, ids, item_topics)
        for reader_id, email in chunk:
            topics = followed.get(reader_id, set())
            if not topics:
                continue
            plan.readers += 1
            new = [
                item_id
                for item_id, about in item_topics.items()
                if about & topics and item_id not in had.get(reader_id, frozenset())
            ]
            if new:
                plan.receiving += 1
            plan.per_reader.append({"subscriber_id": reader_id, "email": email, "items": new})
    return plan


def edition_items_reach(session: Session, edition_id: int) -> list[dict[str, Any]]:
    """The edition's items in order, each with how many readers get it (API, CLI)."""
    counts = item_counts(session, edition_id)
    rows = session.execute(
        select(EditionItem.item_id, ContentItem.title)
        .join(ContentItem, ContentItem.id == EditionItem.item_id)
        .where(EditionItem.edition_id == edition_id)
        .order_by(EditionItem.position)
    )
    return [
        {"item_id": item_id, "title": title, "readers": counts.get(item_id, 0)}
        for item_id, title in rows
    ]
