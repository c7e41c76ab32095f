"""API tokens: bearer secrets for scripts and other tools, each acting for one staff member.

A token reads ``dsp_<prefix>_<secret>``; the prefix is stored to tell tokens apart in lists,
the whole token only as a SHA-256 digest (it is random: no slow hash is needed). It is shown
once, when made. Its scope narrows its owner's role: "read" only reads.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.db import utcnow
from dispatch.staff.accounts import StaffError
from dispatch.staff.models import TOKEN_SCOPES, ApiToken, StaffUser

TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    session: Session,
    user: StaffUser,
    *,
    name: str,
    scope: str = "read",
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its plain text, which is never stored nor shown again."""
    if scope not in TOKEN_SCOPES:
        raise StaffError(f"Unknown scope {scope!r}: read or write.")
    if not name.strip():
        raise StaffError("Give the token a name that says what uses it.")
    if expires_days is not None and expires_days < 1:
        raise StaffError("A token lasts at least one day.")
    prefix = secrets.token_hex(4)
    plain = f"dsp_{prefix}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    row = ApiToken(
        user_id=user.id,
        name=name.strip()[:100],
        prefix=prefix,
        token_hash=_digest(plain),
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "staff.token_created",
        object_type="api_token",
        object_id=row.id,
        summary={
            "owner": user.email,
            "name": row.name,
            "scope": scope,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        },
    )
    return row, plain


def authenticate(session: Session, plain: str, *, now: datetime | None = None) -> ApiToken | None:
    """The live token `plain` is, its last use noted; None for anything else."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != "dsp" or len(plain) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
    if row is None or not hmac.compare_digest(row.token_hash, _digest(plain)):
        return None
    now = now or utcnow()
    if row.revoked_at is not None or not row.user.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
        session.flush()
    return row


def list_tokens(session: Session, user: StaffUser | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))


def revoke(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise StaffError(f"No API token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            "staff.token_revoked",
            object_type="api_token",
            object_id=row.id,
            summary={"owner": row.user.email, "name": row.name},
        )
    return row


def as_dict(row: ApiToken) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": row.id,
        "name": row.name,
        "owner": row.user.email,
        "prefix": f"dsp_{row.prefix}_…",
        "scope": row.scope,
        "created_at": when(row.created_at),
        "expires_at": when(row.expires_at),
        "last_used_at": when(row.last_used_at),
        "revoked_at": when(row.revoked_at),
    }
