"""Sources: the feeds dispatch polls, and claiming the ones that are due.

A source is due when `next_poll_at <= now` and no poll holds it (`claimed_until`). Claims are
rows, so two beat ticks or a tick and a webhook never poll a source twice at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.content import ingest
from dispatch.content.errors import ContentError
from dispatch.content.models import Source
from dispatch.content.sanitise import is_http_url
from dispatch.content.topics import topics_by_slug
from dispatch.db import is_sqlite, utcnow

SOURCE_KINDS = ("rss", "atom", "wordpress", "ical", "manual")


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
    return source
