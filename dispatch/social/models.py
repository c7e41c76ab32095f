"""Tables for the organisation's social accounts and the posts prepared for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.content.models import ContentItem, Topic
from dispatch.db import Base, utcnow

POST_STATUSES = (
    "draft",
    "awaiting_approval",
    "scheduled",
    "publishing",
    "published",
    "failed",
    "cancelled",
)

account_topics = Table(
    "social_account_topics",
    Base.metadata,
    Column("account_id", ForeignKey("social_accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class SocialAccount(Base):
    __tablename__ = "social_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # mastodon | bluesky | linkedin: how posts are written. Without credentials, in embedded
    # mode, they are written to the outbox folder instead of posted (see social/accounts.py).
    network: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    # Instance / PDS / API base URL; the handle or organisation URN on that network.
    base_url: Mapped[str] = mapped_column(String(500), default="")
    handle: Mapped[str] = mapped_column(String(300), default="")
    # Encrypted JSON (Fernet), or empty when credentials come from the environment.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A prefix: the secrets are read from PREFIX_ACCESS_TOKEN, PREFIX_APP_PASSWORD…
    credentials_env: Mapped[str | None] = mapped_column(String(100))
    token_expires_at: Mapped[datetime | None]
    mode: Mapped[str] = mapped_column(String(20), default="approval")  # automatic|approval|off
    delay_minutes: Mapped[int] = mapped_column(default=0)
    language: Mapped[str] = mapped_column(String(5), default="fr")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    topics: Mapped[list[Topic]] = relationship(secondary=account_topics, lazy="selectin")


class SocialPost(Base):
    __tablename__ = "social_posts"
    __table_args__ = (
        UniqueConstraint("account_id", "item_id"),
        UniqueConstraint("account_id", "edition_id"),
        Index("ix_social_posts_due", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("content_items.id", ondelete="CASCADE"))
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(30), default="draft")
    text: Mapped[str] = mapped_column(Text, default="")
    scheduled_at: Mapped[datetime | None]
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    remote_id: Mapped[str | None] = mapped_column(String(500))
    remote_url: Mapped[str | None] = mapped_column(String(2000))
    last_error: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[SocialAccount] = relationship(lazy="joined")
    item: Mapped[ContentItem | None] = relationship(lazy="joined")
