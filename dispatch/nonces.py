"""Values that may be used once: form nonces, webhook signatures. A row per value used, kept
until the value would have expired anyway, so a replay within its lifetime is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.db import Base, utcnow


class UsedNonce(Base):
    __tablename__ = "used_nonces"

    # "<purpose>:<value>", e.g. "form:Qk3…" or "hook:<sha256 of the signature>".
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


def use_once(session: Session, key: str, *, expires_at: datetime) -> bool:
    """Record `key` as used; False if it already was (a replay). Flushes."""
    now = utcnow()
    if expires_at <= now:
        return False
    session.execute(delete(UsedNonce).where(UsedNonce.expires_at < now))
    if session.scalar(select(UsedNonce.key).where(UsedNonce.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(UsedNonce(key=key, expires_at=expires_at))
    except IntegrityError:
        return False  # the same value, used at the same moment by another request
    return True
