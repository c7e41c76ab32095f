"""Fixed-window counters in the database: abuse limits, and the send throttle when no Redis runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.db import Base, utcnow


class RateCounter(Base):
    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


def hit(session: Session, key: str, *, window_seconds: int, limit: int) -> bool:
    """Count one hit on `key`; True while the window's count stays within `limit`."""
    now = utcnow()
    start = datetime.fromtimestamp(
        int(now.timestamp()) // window_seconds * window_seconds, tz=now.tzinfo
    )
    updated = session.execute(
        update(RateCounter)
        .where(RateCounter.key == key, RateCounter.window_start == start)
        .values(count=RateCounter.count + 1)
        .returning(RateCounter.count)
    ).scalar_one_or_none()
    if updated is None:
        try:
            with session.begin_nested():
                session.add(RateCounter(key=key, window_start=start, count=1))
            updated = 1
        except IntegrityError:
            # Another request created the window's row first: count on it.
            updated = session.execute(
                update(RateCounter)
                .where(RateCounter.key == key, RateCounter.window_start == start)
                .values(count=RateCounter.count + 1)
                .returning(RateCounter.count)
            ).scalar_one()
    return updated <= limit


def count(session: Session, key: str, *, window_seconds: int) -> int:
    now = utcnow()
    start = datetime.fromtimestamp(
        int(now.timestamp()) // window_seconds * window_seconds, tz=now.tzinfo
    )
    value = session.scalar(
        select(RateCounter.count).where(RateCounter.key == key, RateCounter.window_start == start)
    )
    return value or 0
