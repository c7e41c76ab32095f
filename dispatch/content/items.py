"""Content items as staff see them: listing, and the curated picks they add by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, selectinload

from dispatch import audit
from dispatch.content.entries import ParsedEntry
from dispatch.content.errors import ContentError
from dispatch.content.models import (
    ContentItem,
    DeskDecision,
    ItemSource,
    PublicationEvent,
    PublicationReceipt,
    Source,
    item_topics,
)
from dispatch.content.publications import fire_publication
from dispatch.content.sanitise import clean_title, excerpt, is_http_url
from dispatch.content.sightings import add_sighting
from dispatch.content.topics import topics_by_slug
from dispatch.content.uses import references
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
    image_url: str = "",
    image_alt: str = "",
) -> ContentItem:
    """A curated pick (#onaime, #controverse, #mustread…): an item staff add by hand.

    An image is optional; given, it needs its text alternative (what it shows, for readers
    who do not see it)."""
    if not is_http_url(url):
        raise ContentError(f"{url!r} is not an http(s) URL")
    clean = clean_title(title)
    if not clean:
        raise ContentError("a pick needs a title")
    image, alt = _image(image_url, image_alt)
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
        image_url=image,
        image_alt=alt,
        published_at=entry.published_at,
        content_hash=entry.content_hash,
    )
    item.topics = [topic]
    session.add(item)
    add_sighting(session, item, entry, source_id=source.id, url=url, topics=[topic], now=utcnow())
    session.flush()
    fire_publication(session, item.id)
    audit.record(
        session,
        "pick.added",
        object_type="item",
        object_id=item.id,
        summary={"url": url, "tag": topic.slug},
    )
    return item


def _image(url: str, alt: str) -> tuple[str | None, str | None]:
    url, alt = url.strip(), clean_title(alt)
    if not url:
        return None, None
    if not is_http_url(url):
        raise ContentError(f"{url!r} is not an http(s) URL")
    if not alt:
        raise ContentError("an image needs its text alternative (what it shows)")
    return url, alt[:1000]


def get_pick(session: Session, item_id: int) -> ContentItem:
    item = session.get(ContentItem, item_id)
    if item is None or item.kind != "pick":
        raise ContentError(f"there is no pick {item_id}")
    return item


def update_pick(
    session: Session,
    item_id: int,
    *,
    title: str,
    tag: str,
    comment: str = "",
    image_url: str = "",
    image_alt: str = "",
) -> ContentItem:
    """Change a pick's words, tag or image (its address stays: it is what identifies it)."""
    item = get_pick(session, item_id)
    clean = clean_title(title)
    if not clean:
        raise ContentError("a pick needs a title")
    image, alt = _image(image_url, image_alt)
    (topic,) = topics_by_slug(session, [tag])
    note = clean_title(comment)
    before = _pick_fields(item)
    item.title = clean
    item.tag = topic.slug
    item.topics = [topic]
    item.comment = note or None
    item.excerpt = excerpt(note, 300) if note else ""
    item.image_url, item.image_alt = image, alt
    item.updated_at = utcnow()
    for sighting in item.sightings:  # what the manual source "says" of it: the new tag
        sighting.topic_ids = [topic.id]
        sighting.status = item.status
    session.flush()
    after = _pick_fields(item)
    if after != before:
        audit.record(
            session,
            "pick.changed",
            object_type="item",
            object_id=item.id,
            summary={"before": before, "after": after},
        )
    return item


def _pick_fields(item: ContentItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "tag": item.tag,
        "comment": item.comment,
        "image_url": item.image_url,
        "image_alt": item.image_alt,
    }


#: What a pick carries with it from its creation; anything else means it went out somewhere.
_OWN_ROWS = ("item_topics", "item_sources", "publication_events", "desk_decisions")


def delete_pick(session: Session, item_id: int) -> str:
    """Delete a pick, or withdraw it when it already went out (an edition or a post carried
    it): what was sent keeps showing it, nothing new will. Returns "deleted" or "withdrawn"."""
    item = get_pick(session, item_id)
    summary = {"url": item.url, "tag": item.tag}
    if references(session, "content_items", item.id, ignore=_OWN_ROWS):
        item.status = "unpublished"
        for sighting in item.sightings:
            sighting.status = "unpublished"
        session.flush()
        audit.record(
            session, "pick.withdrawn", object_type="item", object_id=item_id, summary=summary
        )
        return "withdrawn"
    event_ids = select(PublicationEvent.id).where(PublicationEvent.item_id == item.id)
    session.execute(delete(PublicationReceipt).where(PublicationReceipt.event_id.in_(event_ids)))
    session.execute(delete(PublicationEvent).where(PublicationEvent.item_id == item.id))
    session.execute(delete(DeskDecision).where(DeskDecision.item_id == item.id))
    session.delete(item)
    session.flush()
    audit.record(session, "pick.deleted", object_type="item", object_id=item_id, summary=summary)
    return "deleted"


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
    query = query.options(selectinload(ContentItem.sightings))
    return list(session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class ItemFilter:
    """What staff narrow a list of items to; every part optional."""

    kind: str | None = None
    topic: str | None = None
    source_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""
    include_unpublished: bool = False


def search_items(
    session: Session, wanted: ItemFilter, *, limit: int = 50, before_id: int | None = None
) -> list[ContentItem]:
    """Items newest first (by id, so that pages are stable), narrowed as `wanted` says."""
    query = select(ContentItem)
    if not wanted.include_unpublished:
        query = query.where(ContentItem.status == "published")
    if wanted.kind:
        query = query.where(ContentItem.kind == wanted.kind)
    if wanted.source_id is not None:
        # Every item the source lists, merged ones included.
        listed = select(ItemSource.item_id).where(ItemSource.source_id == wanted.source_id)
        query = query.where(
            or_(ContentItem.source_id == wanted.source_id, ContentItem.id.in_(listed))
        )
    if wanted.since is not None:
        query = query.where(ContentItem.published_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(ContentItem.published_at < wanted.until)
    if wanted.text.strip():
        pattern = "%" + wanted.text.strip().replace("%", r"\%").replace("_", r"\_") + "%"
        query = query.where(
            ContentItem.title.ilike(pattern, escape="\\")
            | ContentItem.url.ilike(pattern, escape="\\")
        )
    if wanted.topic:
        (found,) = topics_by_slug(session, [wanted.topic])
        query = query.where(
            ContentItem.id.in_(
                select(item_topics.c.item_id).where(item_topics.c.topic_id == found.id)
            )
        )
    if before_id is not None:
        query = query.where(ContentItem.id < before_id)
    query = query.options(selectinload(ContentItem.sightings))
    return list(session.scalars(query.order_by(ContentItem.id.desc()).limit(limit)))


def get_item(session: Session, item_id: int) -> ContentItem:
    item = session.get(ContentItem, item_id)
    if item is None:
        raise ContentError(f"there is no item {item_id}")
    return item


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
        "sources": sources_of(item),
        **(event_fields(item) if item.kind == "event" else {}),
    }


def sources_of(item: ContentItem) -> list[dict[str, Any]]:
    """Every source that lists the item, the first one first: how a merge is seen."""
    return [
        {
            "source_id": seen.source_id,
            "kind": seen.source.kind,
            "source_url": seen.source.url,
            "guid": seen.guid,
            "url": seen.url,
            "status": seen.status,
            "first_seen_at": seen.first_seen_at.isoformat(),
            "last_seen_at": seen.last_seen_at.isoformat(),
        }
        for seen in item.sightings
    ]


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
