"""Tables for subscribers, their per-topic preferences, the consent ledger and suppression."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, event, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.content.models import Topic
from dispatch.db import Base, utcnow

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
FREQUENCIES = ("immediately", "weekly", "monthly")
SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "erased", "purged")


class Subscriber(Base):
    __tablename__ = "subscribers"
    # Signed links carry the id: SQLite must never hand an erased person's id to someone new.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]
    last_engagement_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(50))
    soft_bounces: Mapped[int] = mapped_column(default=0)
    # "Remind me of events": reminders before the events of the topics they follow.
    event_reminders: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The staff letter is a choice like the topics (on unless the reader says no).
    letter: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Bumped when a subscription cycle ends (unsubscribe, bounce…) or starts again, so a
    # confirm link from an earlier cycle can never re-activate the address.
    confirm_nonce: Mapped[int] = mapped_column(default=0)
    # Emails are sent by tasks: "requested" is set by the request, "sent" by the task, so a
    # task run twice sends once.
    confirm_requested_at: Mapped[datetime | None]
    confirmation_sent_at: Mapped[datetime | None]
    link_requested_at: Mapped[datetime | None]
    link_sent_at: Mapped[datetime | None]
    # A confirmation asks for the welcome; staff adding or importing people only with --welcome.
    welcome_requested_at: Mapped[datetime | None]
    welcome_sent_at: Mapped[datetime | None]
    # `purge-inactive` asks a reader with no sign of life whether they stay before erasing.
    repermission_requested_at: Mapped[datetime | None]
    repermission_sent_at: Mapped[datetime | None]

    preferences: Mapped[list[Preference]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", lazy="selectin"
    )


class Preference(Base):
    __tablename__ = "preferences"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    frequency: Mapped[str] = mapped_column(String(20))  # immediately | weekly | monthly

    subscriber: Mapped[Subscriber] = relationship(back_populates="preferences")
    topic: Mapped[Topic] = relationship(lazy="joined")


class ConsentEvent(Base):
    """Append-only proof of what a person agreed to, when and how.

    On erasure the person's rows go and one row stays, keyed by the suppression hash only.
    """

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # subscribe | confirm | preferences | unsubscribe | import | erase | bounce | complaint |
    # repermission (asked to stay) | stay (pressed « Je reste abonné·e »)
    action: Mapped[str] = mapped_column(String(30))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(200), default="")
    consent_version: Mapped[str | None] = mapped_column(String(50))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)


class Suppression(Base):
    """An address that must never be mailed again, kept as a keyed hash (survives erasure)."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(30))  # one of SUPPRESSION_REASONS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkRequest(Base):
    """An "email me my link" typed on the public page, waiting for a worker.

    The page only writes this row (the same work whoever the address belongs to, so the
    answer's timing says nothing about it); the worker decides what, if anything, to send,
    and deletes the row. The address is what a visitor typed: it lives here for seconds.
    """

    __tablename__ = "link_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # normalised
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


@event.listens_for(ConsentEvent, "before_update")
def _refuse_consent_update(_mapper: Any, _connection: Any, target: ConsentEvent) -> None:
    # The ledger is proof: a row, once written, is never rewritten (erasure deletes, never edits).
    raise ValueError(f"consent event {target.id} is append-only and cannot be changed")


class Receipt(Base):
    """One item a reader received, in which edition and channel, and when: "once per reader".

    Written by the sending engine in the same commit that marks the delivery sent, so it is
    true after any crash; alerts, digests and letters leave out what a reader already has.
    Erasing a person erases their receipts (cascade). `item_id` and `edition_id` name a
    `content_items` and an `editions` row without a foreign key: on PostgreSQL each would
    lock the same row (the edition, the letter's items) once per receipt of every message
    sent (FOR KEY SHARE), and neither row is deleted once something went out (a sent pick is
    withdrawn, not deleted; its `edition_items` rows keep it).
    """

    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_item", "item_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # alert | digest | newsletter | event
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
