"""Each source's entry for an item (`ItemSource`): what it last said, and what follows.

An item is published while any of its sources still lists it as published, and has the
topics every one of its sources gives it. A source that was removed lists nothing any more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.content.entries import ParsedEntry
from dispatch.content.models import ContentItem, ItemSource, Topic


def sighting_of(session: Session, source_id: int, guid: str) -> ItemSource | None:
    """The entry `guid` of a source, as an item's sighting.

    An item written before sightings existed (or by code that writes items directly) is
    adopted: its first source's entry becomes its sighting, as it stands.
    """
    seen = session.scalar(
        select(ItemSource).where(ItemSource.source_id == source_id, ItemSource.guid == guid)
    )
    if seen is not None:
        return seen
    item = session.scalar(
        select(ContentItem).where(ContentItem.source_id == source_id, ContentItem.guid == guid)
    )
    if item is None:
        return None
    seen = ItemSource(
        item=item,
        source_id=source_id,
        guid=guid,
        url=item.url,
        content_hash=item.content_hash,
        status=item.status,
        topic_ids=[topic.id for topic in item.topics],
        first_seen_at=item.first_seen_at,
        last_seen_at=item.last_seen_at,
    )
    session.add(seen)
    session.flush()
    return seen


def add_sighting(
    session: Session,
    item: ContentItem,
    entry: ParsedEntry,
    *,
    source_id: int,
    url: str,
    topics: list[Topic],
    now: datetime,
) -> ItemSource:
    """A source's first sighting of `entry`, mapped to `item`."""
    seen = ItemSource(
        item=item,
        source_id=source_id,
        guid=entry.guid,
        url=url,
        content_hash=entry.content_hash,
        status=entry.status,
        topic_ids=[topic.id for topic in topics],
        first_seen_at=now,
        last_seen_at=now,
    )
    session.add(seen)
    return seen


def settle_status(item: ContentItem) -> str:
    """Published while a source that is still polled lists it as published."""
    current = [s for s in item.sightings if s.source is None or s.source.removed_at is None]
    if current:
        item.status = (
            "published" if any(s.status == "published" for s in current) else "unpublished"
        )
    return item.status


def settle_topics(
    session: Session, item: ContentItem, seen: ItemSource, topics: list[Topic]
) -> None:
    """`seen`'s source now gives `topics`: the item has those and every topic its other
    sources give it."""
    seen.topic_ids = [topic.id for topic in topics]
    chosen = {topic.id: topic for topic in topics}
    others = {
        topic_id
        for other in item.sightings
        if other is not seen
        for topic_id in other.topic_ids or []
        if topic_id not in chosen
    }
    if others:
        for topic in session.scalars(select(Topic).where(Topic.id.in_(others))):
            chosen[topic.id] = topic
    item.topics = list(chosen.values())
