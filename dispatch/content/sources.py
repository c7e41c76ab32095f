"""Sources: the feeds dispatch polls, and claiming the ones that are due.

A source is due when `next_poll_at <= now` and no poll holds it (`claimed_until`); a
WordPress source is also due when its events listing is (`events_next_poll_at`). Claims are
rows, so two beat ticks or a tick and a webhook never poll a source twice at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.content import ingest
from dispatch.content.errors import ContentError
from dispatch.content.models import Source, Topic
from dispatch.content.sanitise import is_http_url
from dispatch.content.topics import topics_by_slug
from dispatch.db import is_sqlite, utcnow

SOURCE_KINDS = ("rss", "atom", "wordpress", "ical", "manual")
#: The topic a WordPress site's events get unless staff choose another.
DEFAULT_EVENTS_TOPIC = "events"


def main_due(source: Source, now: datetime) -> bool:
    """Whether the source's own listing (a WordPress site's posts) is due."""
    return source.next_poll_at is None or source.next_poll_at <= now


def events_due(source: Source, now: datetime) -> bool:
    """Whether a WordPress site's events listing is due (never for other kinds)."""
    if source.kind != "wordpress":
        return False
    return source.events_next_poll_at is None or source.events_next_poll_at <= now


def add_source(
    session: Session,
    *,
    url: str,
    kind: str,
    topic_slugs: Sequence[str] = (),
    interval_minutes: int = 15,
    name: str = "",
    announce_existing: bool = False,
    events_topic: str | None = None,
) -> Source:
    """A new source, due at once. A WordPress site's events get `events_topic` (by default
    the "events" topic when there is one; `None` and no such topic: the source's topics)."""
    if kind not in SOURCE_KINDS or kind == "manual":
        raise ContentError(f"unknown source kind {kind!r}: use rss, atom, wordpress or ical")
    if not is_http_url(url):
        raise ContentError(f"{url!r} is not an http(s) URL")
    if interval_minutes < 1:
        raise ContentError("the poll interval must be at least one minute")
    existing = session.scalar(select(Source).where(Source.url == url, Source.kind == kind))
    if existing is not None and existing.removed_at is None:
        raise ContentError(f"a {kind} source for {url} already exists")
    if existing is not None:
        # Added again after a removal: the same row, so its items and their history stay one.
        existing.removed_at = None
        existing.enabled = True
        existing.next_poll_at = utcnow()
        existing.topics = topics_by_slug(session, topic_slugs)
        session.flush()
        audit.record(
            session,
            "source.added",
            object_type="source",
            object_id=existing.id,
            summary={"kind": kind, "url": url, "again": True},
        )
        return existing
    source = Source(
        url=url,
        kind=kind,
        name=name or url,
        interval_minutes=interval_minutes,
        announce_existing=announce_existing,
        next_poll_at=utcnow(),
    )
    source.topics = topics_by_slug(session, topic_slugs)
    if kind == "wordpress":
        source.events_topic = _events_topic(session, events_topic)
    elif events_topic:
        raise ContentError("only a WordPress source has an events listing of its own")
    session.add(source)
    session.flush()
    audit.record(
        session,
        "source.added",
        object_type="source",
        object_id=source.id,
        summary={"kind": kind, "url": url, "topics": list(topic_slugs)},
    )
    return source


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None or source.kind == "manual" or source.removed_at is not None:
        raise ContentError(f"there is no source {source_id}")
    return source


def set_enabled(session: Session, source_id: int, *, enabled: bool) -> Source:
    """Pause or resume polling; the items already in stay as they are."""
    source = get_source(session, source_id)
    if source.enabled != enabled:
        source.enabled = enabled
        if enabled:
            source.next_poll_at = utcnow()
            source.consecutive_failures = 0
        session.flush()
        audit.record(
            session,
            "source.resumed" if enabled else "source.paused",
            object_type="source",
            object_id=source.id,
            summary={"url": source.url},
        )
    return source


def remove_source(session: Session, source_id: int) -> Source:
    """Stop polling a source and hide it from the lists. Its items stay: editions and posts
    that carried them keep showing what was sent."""
    source = get_source(session, source_id)
    if source.removed_at is None:
        source.removed_at = utcnow()
        source.enabled = False
        session.flush()
        audit.record(
            session,
            "source.removed",
            object_type="source",
            object_id=source.id,
            summary={"url": source.url, "kind": source.kind},
        )
    return source


def _events_topic(session: Session, slug: str | None) -> Topic | None:
    if slug:
        (topic,) = topics_by_slug(session, [slug])
        return topic
    return session.scalar(select(Topic).where(Topic.slug == DEFAULT_EVENTS_TOPIC))


def configure_source(
    session: Session,
    source_id: int,
    *,
    events_topic: str | None = None,
    events_interval_minutes: int | None = None,
    interval_minutes: int | None = None,
    enabled: bool | None = None,
) -> Source:
    """Change a source's schedule, its events topic (WordPress) or whether it is polled."""
    source = session.get(Source, source_id)
    if source is None or source.kind == "manual":
        raise ContentError(f"no source {source_id} (see `dispatch sources list`)")
    before = _settings_of(source)
    events_part = events_topic is not None or events_interval_minutes is not None
    if events_part and source.kind != "wordpress":
        raise ContentError("only a WordPress source has an events listing of its own")
    if events_topic is not None:
        source.events_topic = _events_topic(session, events_topic)
    for value in (interval_minutes, events_interval_minutes):
        if value is not None and value < 1:
            raise ContentError("the poll interval must be at least one minute")
    if interval_minutes is not None:
        source.interval_minutes = interval_minutes
    if events_interval_minutes is not None:
        source.events_interval_minutes = events_interval_minutes
    session.flush()
    after = _settings_of(source)
    if after != before:
        audit.record(
            session,
            "source.changed",
            object_type="source",
            object_id=source.id,
            summary={"before": before, "after": after},
        )
    if enabled is not None:
        set_enabled(session, source.id, enabled=enabled)
    return source


def _settings_of(source: Source) -> dict[str, Any]:
    return {
        "interval_minutes": source.interval_minutes,
        "events_interval_minutes": source.events_interval_minutes,
        "events_topic": source.events_topic.slug if source.events_topic else None,
    }


def list_sources(session: Session) -> list[Source]:
    return list(
        session.scalars(
            select(Source)
            .where(Source.kind != "manual", Source.removed_at.is_(None))
            .order_by(Source.id)
        )
    )


def find_source(session: Session, *, url: str, kind: str) -> Source | None:
    """The enabled source added with exactly this URL and kind (what a webhook names)."""
    return session.scalar(
        select(Source).where(
            Source.url == url,
            Source.kind == kind,
            Source.kind != "manual",
            Source.enabled.is_(True),
        )
    )


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
    # First, the polls that never came back: their sources back off before anything is due.
    ingest.record_stopped_polls(session, now=now)
    query = (
        select(Source.id)
        .where(
            Source.enabled.is_(True),
            Source.kind != "manual",
            or_(
                Source.next_poll_at.is_(None),
                Source.next_poll_at <= now,
                and_(
                    Source.kind == "wordpress",
                    or_(Source.events_next_poll_at.is_(None), Source.events_next_poll_at <= now),
                ),
            ),
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
    """Claim one source now (a webhook or a staff command), unless a poll holds it.

    Everything the source lists is due at once: a WordPress site's posts and its events.
    """
    now = now or utcnow()
    claimed = session.execute(
        update(Source)
        .where(
            Source.id == source_id,
            or_(Source.claimed_until.is_(None), Source.claimed_until < now),
        )
        .values(claimed_until=now + lease, next_poll_at=now, events_next_poll_at=now)
    )
    session.flush()
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


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
        "crashes": source.crashes,
        **(_events_part(source) if source.kind == "wordpress" else {}),
    }


def resume_source(session: Session, source_id: int, *, now: datetime | None = None) -> Source:
    """Poll a paused (or disabled) source again, at once, with its crash count cleared."""
    source = session.get(Source, source_id)
    if source is None or source.kind == "manual":
        raise ContentError(f"no source {source_id}")
    source.enabled = True
    source.crashes = 0
    source.poll_started_at = None
    source.next_poll_at = now or utcnow()
    if source.last_status == "paused":
        source.last_status = "error"
    session.flush()
    audit.record(
        session,
        "source.resumed",
        object_type="source",
        object_id=source.id,
        summary={"url": source.url},
    )
    return source


def _events_part(source: Source) -> dict[str, Any]:
    return {
        "events": {
            "topic": source.events_topic.slug if source.events_topic else None,
            "interval_minutes": source.events_interval_minutes,
            "last_polled_at": _iso(source.events_last_polled_at),
            "next_poll_at": _iso(source.events_next_poll_at),
            "last_result": source.events_last_result,
            "last_error": source.events_last_error,
        }
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
