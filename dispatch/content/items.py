"""Content items as staff see them: listing, and the curated picks they add by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.content.entries import ParsedEntry
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem, Source, item_topics
from dispatch.content.publications import fire_publication
from dispatch.content.sanitise import clean_title, excerpt, is_http_url
from dispatch.content.topics import topics_by_slug
from dispatch.db import utcnow

PICK_TAGS = ("onaime", "controverse", "mustread")
MANUAL_SOURCE_URL = "manual:picks"


def manual_source(session: Session) -> Source:
    source = session.scalar(select(Source).where(Source.kind == "manual"))
    if source is None:
        source = Source(kind="manual", url=MANUAL_SOURCE_URL, name="Sélection (What's up ?)")
        session.add(source)
        session.flush()
    return source


def add_pick(
    session: Session,
    *,
    url: str,
    title: str,
    tag: str,
    comment: str = "",
    published_at: datetime | None = None,
) -> ContentItem:
    """A curated pick (#onaime, #controverse, #mustread…): an item staff add by hand."""
    if not is_http_url(url):
        raise ContentError(f"{url!r} is not an http(s) URL")
    clean = clean_title(title)
    if not clean:
        raise ContentError("a pick needs a title")
    (topic,) = topics_by_slug(session, [tag])
    source = manual_source(session)
    if session.scalar(
        select(ContentItem).where(ContentItem.source_id == source.id, ContentItem.guid == url)
    ):
        raise ContentError(f"{url} is already a pick")
    note = clean_title(comment)
    entry = ParsedEntry(
        guid=url,
        kind="pick",
        title=clean,
        url=url,
        summary_html="",
        excerpt=excerpt(note, 300) if note else "",
        categories=(topic.slug,),
        published_at=published_at or utcnow(),
    )
    item = ContentItem(
        source_id=source.id,
        guid=url,
        kind="pick",
        title=entry.title,
        url=url,
        excerpt=entry.excerpt,
        tag=topic.slug,
        comment=note or None,
        published_at=entry.published_at,
        content_hash=entry.content_hash,
    )
    item.topics = [topic]
    session.add(item)
    session.flush()
    fire_publication(session, item.id)
    return item


def list_items(
    session: Session,
    *,
    since: datetime | None = None,
    topic: str | None = None,
    kind: str | None = None,
    include_unpublished: bool = False,
    limit: int = 100,
) -> list[ContentItem]:
    query = select(ContentItem)
    if not include_unpublished:
        query = query.where(ContentItem.status == "published")
    if since is not None:
        query = query.where(ContentItem.published_at >= since)
    if kind is not None:
        query = query.where(ContentItem.kind == kind)
    if topic is not None:
        (found,) = topics_by_slug(session, [topic])
        query = query.where(
            ContentItem.id.in_(
                select(item_topics.c.item_id).where(item_topics.c.topic_id == found.id)
            )
        )
    query = query.order_by(ContentItem.published_at.desc().nulls_last(), ContentItem.id.desc())
    return list(session.scalars(query.limit(limit)))


def item_as_dict(item: ContentItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "title": item.title,
        "url": item.url,
        "excerpt": item.excerpt,
        "image_url": item.image_url,
        "image_alt": item.image_alt,
        "tag": item.tag,
        "comment": item.comment,
        "topics": [t.slug for t in item.topics],
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "event_start": item.event_start.isoformat() if item.event_start else None,
        "event_end": item.event_end.isoformat() if item.event_end else None,
        "all_day": item.all_day,
        "location": item.location,
        "source_id": item.source_id,
        **(event_fields(item) if item.kind == "event" else {}),
    }


def event_fields(item: ContentItem) -> dict[str, Any]:
    """What an event has beyond an item: its zone, links, organiser, cost and status."""
    return {
        "event_timezone": item.event_timezone,
        "online_url": item.online_url,
        "registration_url": item.registration_url,
        "organiser": item.organiser,
        "cost": item.cost,
        "event_status": item.event_status,
        "sequence": item.event_sequence,
        "reminders": not item.reminders_off,
    }
