"""Tables for staff accounts, their web sessions, API tokens and one-time links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.db import Base, utcnow

ROLES = ("owner", "editor", "author", "viewer")
LINK_PURPOSES = ("invite", "reset")
TOKEN_SCOPES = ("read", "write")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    role: Mapped[str] = mapped_column(String(20))  # one of ROLES
    active: Mapped[bool] = mapped_column(default=True)
    # argon2id; empty until the person sets it from their invitation link.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]
    # TOTP second factor: the secret is encrypted at rest; recovery codes are argon2 hashes,
    # each removed once used.
    totp_secret: Mapped[bytes | None]
    totp_enabled_at: Mapped[datetime | None]
    # The last time step a code was accepted for: the same code is never accepted twice.
    totp_last_step: Mapped[int | None]
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="select"
    )


class StaffSession(Base):
    """A browser's login, as a row so that it can be revoked. The cookie holds a random
    token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    # "password" until the second factor is given, then "full"; only "full" sessions act.
    level: Mapped[str] = mapped_column(String(10), default="full")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))

    user: Mapped[StaffUser] = relationship(back_populates="sessions", lazy="joined")


class ApiToken(Base):
    """A bearer token for scripts and other tools, acting for one staff member."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # Shown in lists so people can tell tokens apart; the secret part is only hashed.
    prefix: Mapped[str] = mapped_column(String(20), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))  # read | write
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[StaffUser] = relationship(lazy="joined")


class StaffLink(Base):
    """A one-time link to set a password: an invitation or a reset. The link carries this
    row's id, signed; the row makes it single-use and dated."""

    __tablename__ = "staff_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(10))  # invite | reset
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    user: Mapped[StaffUser] = relationship(lazy="joined")
