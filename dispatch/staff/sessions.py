"""Web sessions of staff: rows that can be revoked, a cookie that holds only a random token.

A session ends after `staff.session_idle_minutes` without a request and after
`staff.session_max_hours` in any case; changing a password or a role, or disabling an
account, revokes every session of that person. A session at level "password" only allows
the second-factor step; "full" acts. Forms carry a CSRF token derived from the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.staff.models import StaffSession, StaffUser

COOKIE_NAME = "dispatch_staff"
#: How often at most `last_seen_at` is written: reading a page need not write every time.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session,
    settings: Settings,
    user: StaffUser,
    *,
    level: str = "full",
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[StaffSession, str]:
    """A new session row and the cookie value that names it (shown once, never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = StaffSession(
        token_hash=_digest(token),
        user_id=user.id,
        level=level,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.staff.session_max_hours),
        ip=ip,
        user_agent=(user_agent or "")[:500] or None,
    )
    session.add(row)
    session.flush()
    return row, token


def find_session(
    session: Session, settings: Settings, token: str | None, *, now: datetime | None = None
) -> StaffSession | None:
    """The live session `token` names, its last-seen time moved on; None if there is none."""
    if not token or len(token) > 100:
        return None
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    now = now or utcnow()
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    idle = timedelta(minutes=settings.staff.session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        row.revoked_at = now
        session.flush()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return row


def close_session(session: Session, row: StaffSession) -> None:
    row.revoked_at = utcnow()
    session.flush()


def raise_level(session: Session, row: StaffSession) -> str:
    """The second factor was given: the session may act, under a new token (the one that
    only knew the password is worth nothing from now on). Returns the new cookie value."""
    token = secrets.token_urlsafe(32)
    row.token_hash = _digest(token)
    row.level = "full"
    session.flush()
    return token


def csrf_token(settings: Settings, row: StaffSession) -> str:
    """The token every staff form and the back office's API calls carry for this session."""
    key = settings.secret_key.encode()
    return hmac.new(key, f"csrf:{row.token_hash}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(settings: Settings, row: StaffSession, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(settings, row), given or "")


def open_sessions(session: Session, user_id: int) -> list[StaffSession]:
    now = utcnow()
    return list(
        session.scalars(
            select(StaffSession)
            .where(
                StaffSession.user_id == user_id,
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
            )
            .order_by(StaffSession.last_seen_at.desc())
        )
    )
