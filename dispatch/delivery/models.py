"""Tables for the recipients ledger (one Delivery per edition and subscriber) and bounces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, utcnow

DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "bounced", "skipped")


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        # Partial indexes: a row sits in one only while queued or sending, so marking a row
        # sent (the hot path) does not add entries to them.
        Index(
            "ix_deliveries_queued",
            "edition_id",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index(
            "ix_deliveries_sending",
            "edition_id",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    # SET NULL: an erased person leaves an anonymous row so the edition's counts stay true.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    # PostgreSQL: when the database server that granted the lease started. A lease granted
    # before the server's last start was held over a connection that died with the server,
    # so its batch can no longer mark anything: the next tick takes it back at once.
    lease_epoch: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(300))
    smtp_reply: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BounceEvent(Base):
    __tablename__ = "bounce_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # hard | soft | complaint
    status_code: Mapped[str | None] = mapped_column(String(20))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    # Where it came from (Maildir key or IMAP uid), so a message is never counted twice.
    source_ref: Mapped[str] = mapped_column(String(300), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


HELD_KINDS = ("hard", "soft", "complaint", "unreadable")


class HeldReport(Base):
    """Returned mail that proves no delivery (no signed return path, no signed
    `X-Dispatch-Delivery` header), or that could not be read at all: kept for staff to
    apply or discard, never acted on by itself, since anyone can write to the bounce mailbox.
    """

    __tablename__ = "held_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # one of HELD_KINDS
    # The addresses the message names, one per line: what applying it would act on.
    recipients: Mapped[str] = mapped_column(Text, default="")
    status_code: Mapped[str | None] = mapped_column(String(20))
    diagnostic: Mapped[str | None] = mapped_column(Text)
    feedback_type: Mapped[str | None] = mapped_column(String(20))
    # Who sent it and its subject, for staff deciding whether to believe it.
    origin: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text)  # why it was held
    # As in bounce_events: a message read twice is held once.
    source_ref: Mapped[str] = mapped_column(String(300), unique=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolution: Mapped[str | None] = mapped_column(String(20))  # applied | discarded
    outcome: Mapped[str | None] = mapped_column(Text)  # what applying it did
