"""Factories: rows with sensible defaults, flushed, for any test that needs data."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience.models import Preference, Subscriber
from dispatch.content.models import ContentItem, Source, Topic
from dispatch.db import utcnow
from dispatch.editions.models import Edition, EditionItem

_seq = itertools.count(1)


def topic(session: Session, slug: str = "blog", **fields: Any) -> Topic:
    existing = session.scalar(select(Topic).where(Topic.slug == slug))
    if existing is not None:
        return existing
    row = Topic(
        slug=slug,
        name_fr=fields.pop("name_fr", slug.capitalize()),
        name_en=fields.pop("name_en", slug.capitalize()),
        hashtag=fields.pop("hashtag", f"#{slug}"),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def source(session: Session, **fields: Any) -> Source:
    n = next(_seq)
    row = Source(
        kind=fields.pop("kind", "rss"),
        url=fields.pop("url", f"https://www.example.org/feed-{n}.xml"),
        name=fields.pop("name", f"Source {n}"),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def item(session: Session, *, topics: list[str] | None = None, **fields: Any) -> ContentItem:
    n = next(_seq)
    src = fields.pop("source", None) or source(session)
    title = fields.pop("title", f"Innovation publique : et si on « dépliait » l’évaluation ? {n}")
    row = ContentItem(
        source_id=src.id,
        guid=fields.pop("guid", f"https://www.example.org/?p={n}"),
        kind=fields.pop("kind", "post"),
        title=title,
        url=fields.pop("url", f"https://www.example.org/{n}/"),
        summary_html=fields.pop("summary_html", "<p>Il y a un an, nous décrivions…</p>"),
        excerpt=fields.pop("excerpt", "Il y a un an, nous décrivions…"),
        published_at=fields.pop("published_at", utcnow() - timedelta(hours=n)),
        content_hash=fields.pop("content_hash", hashlib.sha256(title.encode()).hexdigest()),
        **fields,
    )
    row.topics = [topic(session, slug) for slug in (topics or ["blog"])]
    session.add(row)
    session.flush()
    return row


def event(
    session: Session,
    start: datetime,
    end: datetime | None = None,
    *,
    topics: list[str] | None = None,
    **fields: Any,
) -> ContentItem:
    """An event item (kind "event"), in the events topic unless told otherwise.

    Like a poll stores them: aware UTC times; an all-day event's `end` is its last day.
    """
    fields.setdefault("title", f"Atelier du jeudi {next(_seq)}")
    fields.setdefault("location", "La 27e Région, 5 rue de Charonne, 75011 Paris")
    fields.setdefault("first_seen_at", start - timedelta(days=30))
    return item(
        session,
        kind="event",
        event_start=start,
        event_end=end,
        topics=topics or ["events"],
        **fields,
    )


def subscriber(
    session: Session,
    *,
    email: str | None = None,
    topics: dict[str, str] | None = None,
    **fields: Any,
) -> Subscriber:
    n = next(_seq)
    row = Subscriber(
        email=email or f"lectrice{n}@example.org",
        name=fields.pop("name", f"Lectrice {n}"),
        locale=fields.pop("locale", "fr"),
        status=fields.pop("status", "active"),
        confirmed_at=fields.pop("confirmed_at", utcnow()),
        **fields,
    )
    session.add(row)
    session.flush()
    for slug, frequency in (topics or {"blog": "weekly"}).items():
        session.add(
            Preference(subscriber_id=row.id, topic_id=topic(session, slug).id, frequency=frequency)
        )
    session.flush()
    session.refresh(row)
    return row


def edition(session: Session, *, items: list[ContentItem] | None = None, **fields: Any) -> Edition:
    row = Edition(
        kind=fields.pop("kind", "newsletter"),
        subject=fields.pop("subject", "La lettre de La 27e Région"),
        intro=fields.pop("intro", "Bonjour à toutes et à tous,"),
        **fields,
    )
    session.add(row)
    session.flush()
    for position, content in enumerate(items or []):
        session.add(EditionItem(edition_id=row.id, item_id=content.id, position=position))
    session.flush()
    session.refresh(row)
    return row


def aware(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    from datetime import UTC

    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def staff(
    session: Session,
    settings: Any,
    *,
    role: str = "editor",
    email: str | None = None,
    password: str | None = "correct horse battery staple",
    **fields: Any,
) -> Any:
    """A staff member with a password set (or None: invited, no password yet)."""
    from dispatch.staff import accounts

    user = accounts.add_staff(
        session, email=email or f"equipe{next(_seq)}@example.org", role=role, **fields
    )
    if password is not None:
        accounts.set_password(session, settings, user, password)
    return user
