"""Tables for editions (newsletters, alerts, digests) and their ordered items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.content.models import ContentItem
from dispatch.db import Base, utcnow

EDITION_STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled")


class Edition(Base):
    __tablename__ = "editions"
    __table_args__ = (Index("ix_editions_due", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # newsletter | alert | digest | event
    subject: Mapped[str] = mapped_column(String(500))
    preheader: Mapped[str] = mapped_column(String(500), default="")
    intro: Mapped[str] = mapped_column(Text, default="")  # Markdown written by staff
    template: Mapped[str] = mapped_column(String(50), default="newsletter")
    # NULL: every language, each subscriber reads it in their own.
    locale: Mapped[str | None] = mapped_column(String(5))
    # The same letter in other languages: {"en": {"subject", "preheader", "intro"}}. The main
    # text above is in `locale`, or the default language when `locale` is NULL.
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Who receives it: {"topics": [slugs], "frequency": "weekly"|…|null}.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # One edition per key, enforced here: digests "weekly:2026-W48" or "monthly:2026-11";
    # event reminders "reminder:<item>:<days>"; change notices "notice:<change>".
    period_key: Mapped[str | None] = mapped_column(String(30), unique=True)
    send_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Subscribers who join after the send starts do not join it midway.
    max_subscriber_id: Mapped[int | None]
    # The audience snapshot is written in committed chunks while sending goes on: the last
    # subscriber id it covers, and who writes it (a lease) — see dispatch.delivery.snapshot.
    audience_cursor: Mapped[int | None]
    audience_leased_by: Mapped[str | None] = mapped_column(String(100))
    audience_lease_until: Mapped[datetime | None]
    audience_built_at: Mapped[datetime | None]
    recipients_total: Mapped[int] = mapped_column(default=0)
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    status_reason: Mapped[str | None] = mapped_column(Text)
    # "Send every item to everyone": a letter that must stand whole keeps the items a
    # reader already received (by default they are left out, per reader).
    send_whole: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    items: Mapped[list[EditionItem]] = relationship(
        back_populates="edition",
        cascade="all, delete-orphan",
        order_by="EditionItem.position",
        lazy="selectin",
    )


class EditionItem(Base):
    __tablename__ = "edition_items"

    edition_id: Mapped[int] = mapped_column(
        ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)
    # The title of the section this item opens, per language ({"fr": …, "en": …}); the
    # items after it are in that section until the next heading. None: no new section.
    heading: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)

    edition: Mapped[Edition] = relationship(back_populates="items")
    item: Mapped[ContentItem] = relationship(lazy="joined")


class EventReminder(Base):
    """One reader reminded of one event, `offset_days` before it: at most once, ever.

    Written when the reminder edition is made, for the readers it is meant for; the
    delivery snapshot sends only to them, and the ledger's own unique row does the rest.
    """

    __tablename__ = "event_reminders"
    __table_args__ = (UniqueConstraint("item_id", "subscriber_id", "offset_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    offset_days: Mapped[int]
    edition_id: Mapped[int] = mapped_column(
        ForeignKey("editions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventNotice(Base):
    """What was decided for one change of an event (content's `EventChange`): once each.

    `outcome` is "sent" (a notice edition, `edition_id`), "nobody" (no reader had it),
    "past" (the event is over), "superseded" (a later change of the same event is told
    instead) or "held" (left for staff).
    """

    __tablename__ = "event_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(
        ForeignKey("event_changes.id", ondelete="CASCADE"), unique=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("content_items.id", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
