"""Tables for topics, sources, content items and publication events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.db import Base, utcnow

source_topics = Table(
    "source_topics",
    Base.metadata,
    Column("source_id", ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)

item_topics = Table(
    "item_topics",
    Base.metadata,
    Column("item_id", ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_fr: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # Curated-pick tags (#onaime…) are topics too; the hashtag is what social posts use.
    hashtag: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_fr


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # rss | atom | wordpress | ical | manual
    url: Mapped[str] = mapped_column(String(2000))
    name: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    # Removed by staff: no longer polled nor listed; its items stay for what was sent.
    removed_at: Mapped[datetime | None]
    # On the first poll, entries already online are recorded without alerts or social posts,
    # unless staff ask for them to be announced too.
    announce_existing: Mapped[bool] = mapped_column(default=False)
    interval_minutes: Mapped[int] = mapped_column(default=15)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    # A poll in progress holds the source until this time; an expired claim is free again.
    claimed_until: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))  # ok | not_modified | error
    last_result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # Set when a poll starts reading and cleared when it writes its result: still set once
    # the claim has expired means the poll stopped its worker (killed, crashed, timed out).
    poll_started_at: Mapped[datetime | None]
    # Polls in a row that stopped their worker; at CRASHES_BEFORE_PAUSE the source is paused.
    crashes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # WordPress sites with The Events Calendar: the events listing is polled on its own
    # schedule and with its own validators, and its items get the events topic.
    events_topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", ondelete="SET NULL")
    )
    events_interval_minutes: Mapped[int] = mapped_column(default=60, server_default=text("60"))
    events_etag: Mapped[str | None] = mapped_column(String(500))
    events_last_modified: Mapped[str | None] = mapped_column(String(100))
    events_next_poll_at: Mapped[datetime | None]
    events_last_polled_at: Mapped[datetime | None]
    events_last_result: Mapped[str | None] = mapped_column(Text)
    events_last_error: Mapped[str | None] = mapped_column(Text)

    topics: Mapped[list[Topic]] = relationship(secondary=source_topics, lazy="selectin")
    events_topic: Mapped[Topic | None] = relationship(lazy="joined")
    rules: Mapped[list[TopicRule]] = relationship(
        back_populates="source", cascade="all, delete-orphan", lazy="selectin"
    )


class TopicRule(Base):
    """Maps an upstream category or tag name to a topic (e.g. "Évènements" → events)."""

    __tablename__ = "topic_rules"
    __table_args__ = (UniqueConstraint("source_id", "match"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL source: the rule applies to every source.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    match: Mapped[str] = mapped_column(String(200))  # compared case- and accent-insensitively
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))

    source: Mapped[Source | None] = relationship(back_populates="rules")
    topic: Mapped[Topic] = relationship(lazy="joined")


class ContentItem(Base):
    __tablename__ = "content_items"
    __table_args__ = (
        UniqueConstraint("source_id", "guid"),
        Index("ix_content_items_published", "status", "published_at"),
        Index("ix_content_items_site_post", "site", "wp_post_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(10))  # post | event | pick
    status: Mapped[str] = mapped_column(String(20), default="published")  # | unpublished
    title: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str] = mapped_column(String(2000))
    summary_html: Mapped[str] = mapped_column(Text, default="")
    excerpt: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(2000))
    image_alt: Mapped[str | None] = mapped_column(String(1000))
    author: Mapped[str | None] = mapped_column(String(200))
    tag: Mapped[str | None] = mapped_column(String(64))  # curated picks: onaime, controverse…
    comment: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    event_start: Mapped[datetime | None]
    event_end: Mapped[datetime | None]
    all_day: Mapped[bool] = mapped_column(default=False)
    location: Mapped[str | None] = mapped_column(String(500))
    # Events: the zone they are set in, where to join online or sign up, who organises,
    # what it costs; confirmed | cancelled; the calendar SEQUENCE dispatch publishes, one
    # more at each change of time or place; and staff's choice to send no reminder.
    event_timezone: Mapped[str | None] = mapped_column(String(64))
    online_url: Mapped[str | None] = mapped_column(String(2000))
    registration_url: Mapped[str | None] = mapped_column(String(2000))
    organiser: Mapped[str | None] = mapped_column(String(300))
    cost: Mapped[str | None] = mapped_column(String(200))
    event_status: Mapped[str] = mapped_column(
        String(20), default="confirmed", server_default=text("'confirmed'")
    )
    event_sequence: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    reminders_off: Mapped[bool] = mapped_column(default=False, server_default=false())
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Posts only: what makes the same post one item across the sources of a site
    # (`content/identity.py`): its host, a hash of its canonical link, its WordPress id.
    site: Mapped[str | None] = mapped_column(String(255))
    canonical_key: Mapped[str | None] = mapped_column(String(64), index=True)
    wp_post_id: Mapped[int | None]

    # The first source that saw it (with its guid); every source's entry is in `sightings`.
    source: Mapped[Source] = relationship(lazy="joined")
    topics: Mapped[list[Topic]] = relationship(secondary=item_topics, lazy="selectin")
    sightings: Mapped[list[ItemSource]] = relationship(
        back_populates="item",
        cascade="all, delete-orphan",
        order_by="(ItemSource.first_seen_at, ItemSource.id)",
    )


class ItemSource(Base):
    """One source's entry for an item: the same post in a site's feed and in its REST API
    is one item with two of these.

    Each keeps what that source last said (its guid, content hash, whether it lists the
    item as published, the topics it gives): an edit is a change of one source's hash, and
    the item stays published while any source still lists it.
    """

    __tablename__ = "item_sources"
    __table_args__ = (UniqueConstraint("source_id", "guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str] = mapped_column(String(2000))
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="published")  # | unpublished
    topic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[ContentItem] = relationship(back_populates="sightings")
    source: Mapped[Source] = relationship(lazy="joined")


class PublicationEvent(Base):
    """Fired once per item, the first time it is seen published; consumers leave receipts.

    Rows, not only tasks: if no worker is up, the event waits here and the next tick finds it.
    """

    __tablename__ = "publication_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A silent event records that an item was already online when its source was added:
    # it counts as fired, and nobody consumes it.
    silent: Mapped[bool] = mapped_column(default=False)

    item: Mapped[ContentItem] = relationship(lazy="joined")


class PublicationReceipt(Base):
    """A consumer's note that it has handled an event ("alerts", "social"…); content never
    reads these for itself."""

    __tablename__ = "publication_receipts"

    consumer: Mapped[str] = mapped_column(String(30), primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("publication_events.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EventChange(Base):
    """An event whose time or place changed, or that was cancelled, after it was online.

    Written by the poll that saw it, in the same transaction as the item's new values; who
    is told (and whether) is for the consumers to decide. `before` and `after` hold the
    schedule fields (ISO datetimes, all-day flag, zone, place, online link); `sequence` is
    the item's calendar SEQUENCE from this change on.
    """

    __tablename__ = "event_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # changed | cancelled
    sequence: Mapped[int]
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[ContentItem] = relationship(lazy="joined")
