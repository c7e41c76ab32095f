"""Content services: topics, sources, items and publication events. They flush, never commit."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.content.entries import ParsedEntry
from dispatch.content.models import (
    ContentItem,
    PublicationEvent,
    Source,
    Topic,
    TopicRule,
    item_topics,
)
from dispatch.content.sanitise import clean_title, excerpt, is_http_url
from dispatch.db import is_sqlite, utcnow

SOURCE_KINDS = ("rss", "atom", "wordpress", "ical", "manual")
PICK_TAGS = ("onaime", "controverse", "mustread")
MANUAL_SOURCE_URL = "manual:picks"
MAX_BACKOFF = timedelta(hours=24)


class ContentError(ValueError):
    """Bad input from staff (unknown topic, invalid URL…); the message says what to fix."""


# --- topics -------------------------------------------------------------------------------


def list_topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.position, Topic.slug)))


def add_topic(
    session: Session, slug: str, *, name_fr: str, name_en: str, hashtag: str | None = None
) -> Topic:
    slug = slug.strip().lower()
    if not slug or not slug.replace("-", "").replace("_", "").isalnum():
        raise ContentError(f"invalid topic slug {slug!r}: use letters, digits, - or _")
    if session.scalar(select(Topic).where(Topic.slug == slug)) is not None:
        raise ContentError(f"topic {slug!r} already exists")
    position = (session.scalar(select(func.max(Topic.position))) or 0) + 1
    topic = Topic(
        slug=slug,
        name_fr=name_fr,
        name_en=name_en,
        hashtag=hashtag or f"#{slug}",
        position=position,
    )
    session.add(topic)
    session.flush()
    return topic


def topics_by_slug(session: Session, slugs: Iterable[str]) -> list[Topic]:
    wanted = [s.strip().lower().lstrip("#") for s in slugs if s.strip()]
    found = {t.slug: t for t in session.scalars(select(Topic).where(Topic.slug.in_(wanted)))}
    missing = [s for s in wanted if s not in found]
    if missing:
        known = ", ".join(t.slug for t in list_topics(session)) or "none yet"
        raise ContentError(f"unknown topic(s): {', '.join(missing)} (known: {known})")
    return [found[s] for s in dict.fromkeys(wanted)]


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, so "Évènements" matches "evenements"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def add_rule(
    session: Session, *, match: str, topic_slug: str, source_id: int | None = None
) -> TopicRule:
    (topic,) = topics_by_slug(session, [topic_slug])
    rule = TopicRule(source_id=source_id, match=_fold(match), topic_id=topic.id)
    session.add(rule)
    session.flush()
    return rule


# --- sources ------------------------------------------------------------------------------


def add_source(
    session: Session,
    *,
    url: str,
    kind: str,
    topic_slugs: Sequence[str] = (),
    interval_minutes: int = 15,
    name: str = "",
    announce_existing: bool = False,
) -> Source:
    if kind not in SOURCE_KINDS or kind == "manual":
        raise ContentError(f"unknown source kind {kind!r}: use rss, atom, wordpress or ical")
    if not is_http_url(url):
        raise ContentError(f"{url!r} is not an http(s) URL")
    if interval_minutes < 1:
        raise ContentError("the poll interval must be at least one minute")
    if session.scalar(select(Source).where(Source.url == url, Source.kind == kind)) is not None:
        raise ContentError(f"a {kind} source for {url} already exists")
    source = Source(
        url=url,
        kind=kind,
        name=name or url,
        interval_minutes=interval_minutes,
        announce_existing=announce_existing,
        next_poll_at=utcnow(),
    )
    source.topics = topics_by_slug(session, topic_slugs)
    session.add(source)
    session.flush()
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).where(Source.kind != "manual").order_by(Source.id)))


def find_source_for_url(session: Session, url: str) -> Source | None:
    """The WordPress source whose site contains `url` (webhooks name a post or the site)."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    for source in session.scalars(
        select(Source).where(Source.enabled.is_(True), Source.kind != "manual")
    ):
        if (urlsplit(source.url).hostname or "").lower() == host:
            return source
    return None


def claim_due_sources(
    session: Session,
    *,
    now: datetime | None = None,
    lease: timedelta = timedelta(minutes=5),
    limit: int = 100,
) -> list[int]:
    """Sources whose poll is due and not already claimed; claims them for `lease`.

    The database decides what is due, so two beat ticks or two schedulers never poll a source
    twice at once: PostgreSQL skips rows another transaction holds, SQLite has one writer.
    """
    now = now or utcnow()
    query = (
        select(Source.id)
        .where(
            Source.enabled.is_(True),
            Source.kind != "manual",
            or_(Source.next_poll_at.is_(None), Source.next_poll_at <= now),
            or_(Source.claimed_until.is_(None), Source.claimed_until < now),
        )
        .order_by(Source.next_poll_at)
        .limit(limit)
    )
    if not is_sqlite(session.get_bind()):  # type: ignore[arg-type]
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        session.execute(update(Source).where(Source.id.in_(ids)).values(claimed_until=now + lease))
        session.flush()
    return ids


def claim_source(
    session: Session,
    source_id: int,
    *,
    now: datetime | None = None,
    lease: timedelta = timedelta(minutes=5),
) -> bool:
    """Claim one source now (a webhook or a staff command), unless a poll holds it."""
    now = now or utcnow()
    claimed = session.execute(
        update(Source)
        .where(
            Source.id == source_id,
            or_(Source.claimed_until.is_(None), Source.claimed_until < now),
        )
        .values(claimed_until=now + lease)
    )
    session.flush()
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


@dataclass
class PollReport:
    """What one poll did, for the CLI, the logs and `Source.last_result`."""

    source_id: int
    status: str = "ok"  # ok | not_modified | error
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    unpublished: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    published_events: int = 0
    error: str | None = None

    def summary(self) -> str:
        if self.status == "error":
            return f"error: {self.error}"
        if self.status == "not_modified":
            return "not modified"
        parts = [
            f"{len(self.new)} new",
            f"{len(self.updated)} updated",
            f"{self.unchanged} unchanged",
        ]
        if self.unpublished:
            parts.append(f"{len(self.unpublished)} unpublished")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "status": self.status,
            "summary": self.summary(),
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "unpublished": self.unpublished,
            "skipped": [{"entry": e, "reason": r} for e, r in self.skipped],
            "error": self.error,
        }


def record_failure(
    session: Session, source_id: int, error: str, *, now: datetime | None = None
) -> PollReport:
    """Keep the items, note the error where staff see it, and back off exponentially."""
    now = now or utcnow()
    source = session.get(Source, source_id)
    report = PollReport(source_id=source_id, status="error", error=error)
    if source is None:
        return report
    source.consecutive_failures += 1
    delay = min(
        timedelta(minutes=source.interval_minutes) * (2 ** min(source.consecutive_failures, 10)),
        MAX_BACKOFF,
    )
    source.last_polled_at = now
    source.last_status = "error"
    source.last_error = error
    source.last_result = report.summary()
    source.next_poll_at = now + delay
    source.claimed_until = None
    session.flush()
    return report


def record_not_modified(
    session: Session, source_id: int, *, now: datetime | None = None
) -> PollReport:
    now = now or utcnow()
    source = session.get(Source, source_id)
    report = PollReport(source_id=source_id, status="not_modified")
    if source is not None:
        _poll_done(source, now, report)
    session.flush()
    return report


def _poll_done(source: Source, now: datetime, report: PollReport) -> None:
    source.consecutive_failures = 0
    source.last_polled_at = now
    source.last_status = report.status
    source.last_error = None
    source.last_result = report.summary()
    source.next_poll_at = now + timedelta(minutes=source.interval_minutes)
    source.claimed_until = None


def apply_entries(
    session: Session,
    source_id: int,
    entries: Sequence[ParsedEntry],
    *,
    skipped: Sequence[tuple[str, str]] = (),
    etag: str | None = None,
    last_modified: str | None = None,
    covered: tuple[datetime, datetime] | None = None,
    detect_vanished: bool = True,
    now: datetime | None = None,
) -> PollReport:
    """Turn a poll's entries into items: insert new, update edited, unpublish vanished.

    `covered` is the span of time the fetched document fully lists (for a calendar, its
    window); an item of this source inside it that is no longer listed was deleted upstream.
    Without it, the span runs from the oldest listed entry to now. Nothing is unpublished when
    an entry was skipped, since the skipped one may be the "missing" item.
    """
    now = now or utcnow()
    source = session.get(Source, source_id)
    if source is None:
        raise ContentError(f"no source {source_id}")
    report = PollReport(source_id=source_id, skipped=list(skipped))
    # The first poll that brings entries in, not the first attempt: a first fetch that failed
    # must not make the next one announce the whole back-catalogue.
    first_poll = (
        session.scalar(select(ContentItem.id).where(ContentItem.source_id == source.id).limit(1))
        is None
    )
    silent = first_poll and not source.announce_existing
    rules = _rules_for(session, source)
    seen: set[str] = set()
    for entry in entries:
        if entry.guid in seen:
            continue
        seen.add(entry.guid)
        item, change = _upsert(session, source, entry, rules, now)
        if change == "new":
            report.new.append(item.id)
        elif change == "updated":
            report.updated.append(item.id)
        else:
            report.unchanged += 1
        if item.status == "published" and fire_publication(session, item.id, silent=silent):
            report.published_events += 1
    if detect_vanished and entries and not skipped:
        report.unpublished = _unpublish_vanished(session, source, seen, entries, covered, now)
    if etag is not None or last_modified is not None:
        source.etag, source.last_modified = etag, last_modified
    _poll_done(source, now, report)
    session.flush()
    return report


def _rules_for(session: Session, source: Source) -> dict[str, Topic]:
    rules = session.scalars(
        select(TopicRule).where(
            or_(TopicRule.source_id.is_(None), TopicRule.source_id == source.id)
        )
    )
    # A source's own rule wins over a global one for the same category.
    ordered = sorted(rules, key=lambda r: r.source_id is not None)
    return {rule.match: rule.topic for rule in ordered}


def _topics_for(source: Source, entry: ParsedEntry, rules: dict[str, Topic]) -> list[Topic]:
    topics = {t.id: t for t in source.topics}
    for category in entry.categories:
        topic = rules.get(_fold(category))
        if topic is not None:
            topics[topic.id] = topic
    return list(topics.values())


_ENTRY_FIELDS = (
    "kind",
    "title",
    "summary_html",
    "excerpt",
    "image_url",
    "author",
    "published_at",
    "updated_at",
    "status",
    "event_start",
    "event_end",
    "all_day",
    "location",
)


def _upsert(
    session: Session,
    source: Source,
    entry: ParsedEntry,
    rules: dict[str, Topic],
    now: datetime,
) -> tuple[ContentItem, str]:
    item = session.scalar(
        select(ContentItem).where(
            ContentItem.source_id == source.id, ContentItem.guid == entry.guid
        )
    )
    values: dict[str, Any] = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    values["url"] = entry.url or source.url
    values["image_alt"] = entry.image_alt or None
    values["content_hash"] = entry.content_hash
    if item is None:
        item = ContentItem(source_id=source.id, guid=entry.guid, first_seen_at=now, **values)
        item.topics = _topics_for(source, entry, rules)
        try:
            with session.begin_nested():
                session.add(item)
        except IntegrityError:
            # A concurrent poll inserted it first: fall through to the update path.
            item = session.scalars(
                select(ContentItem).where(
                    ContentItem.source_id == source.id, ContentItem.guid == entry.guid
                )
            ).one()
        else:
            item.last_seen_at = now
            return item, "new"
    item.last_seen_at = now
    if item.content_hash == entry.content_hash:
        return item, "unchanged"
    for name, value in values.items():
        setattr(item, name, value)
    item.topics = _topics_for(source, entry, rules)
    if item.status != "published":
        cancel_pending_social(session, item.id)
    return item, "updated"


def _unpublish_vanished(
    session: Session,
    source: Source,
    seen: set[str],
    entries: Sequence[ParsedEntry],
    covered: tuple[datetime, datetime] | None,
    now: datetime,
) -> list[int]:
    if covered is not None:
        start, end = covered
        in_span = ContentItem.event_start.between(start, end)
    else:
        dates = [e.published_at for e in entries if e.published_at is not None]
        if not dates:
            return []
        in_span = ContentItem.published_at.between(min(dates), now)
    vanished = list(
        session.scalars(
            select(ContentItem).where(
                ContentItem.source_id == source.id,
                ContentItem.status == "published",
                ContentItem.guid.not_in(seen),
                in_span,
            )
        )
    )
    for item in vanished:
        item.status = "unpublished"
        item.updated_at = now
        cancel_pending_social(session, item.id)
    return [item.id for item in vanished]


def cancel_pending_social(session: Session, item_id: int) -> None:
    """An item that left the site leaves the social queues too (published posts stay)."""
    from dispatch.social.models import SocialPost

    session.execute(
        update(SocialPost)
        .where(
            SocialPost.item_id == item_id,
            SocialPost.status.in_(("draft", "awaiting_approval", "scheduled")),
        )
        .values(status="cancelled", last_error="the item was unpublished upstream")
    )


def fire_publication(session: Session, item_id: int, *, silent: bool = False) -> bool:
    """Record the item's publication event, once ever; True if this call created it.

    The unique item_id makes it exactly once even when two polls race or a task runs twice.
    """
    if session.scalar(select(PublicationEvent.id).where(PublicationEvent.item_id == item_id)):
        return False
    now = utcnow()
    event = PublicationEvent(
        item_id=item_id,
        silent=silent,
        alerts_done_at=now if silent else None,
        social_done_at=now if silent else None,
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        return False
    return True


# --- items --------------------------------------------------------------------------------


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
    }


def source_as_dict(source: Source) -> dict[str, Any]:
    return {
        "id": source.id,
        "kind": source.kind,
        "url": source.url,
        "name": source.name,
        "enabled": source.enabled,
        "topics": [t.slug for t in source.topics],
        "interval_minutes": source.interval_minutes,
        "last_polled_at": source.last_polled_at.isoformat() if source.last_polled_at else None,
        "next_poll_at": source.next_poll_at.isoformat() if source.next_poll_at else None,
        "last_status": source.last_status,
        "last_result": source.last_result,
        "last_error": source.last_error,
        "consecutive_failures": source.consecutive_failures,
    }


def pending_publications(
    session: Session, *, consumer: str, limit: int = 100
) -> list[PublicationEvent]:
    """Publication events a consumer ("alerts" or "social") has not handled yet, oldest first."""
    column = {
        "alerts": PublicationEvent.alerts_done_at,
        "social": PublicationEvent.social_done_at,
    }[consumer]
    return list(
        session.scalars(
            select(PublicationEvent)
            .where(column.is_(None))
            .order_by(PublicationEvent.id)
            .limit(limit)
        )
    )


def mark_consumed(session: Session, event_id: int, *, consumer: str) -> None:
    values = {"alerts": {"alerts_done_at": utcnow()}, "social": {"social_done_at": utcnow()}}
    session.execute(
        update(PublicationEvent).where(PublicationEvent.id == event_id).values(**values[consumer])
    )
