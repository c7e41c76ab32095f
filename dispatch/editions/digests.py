"""Digests: weekly (Mondays 08:00) and monthly (the 1st, 08:00) round-ups, Europe/Paris.

One digest edition per period, holding the items published since the previous digest of
the same period (at most one period back). It goes to every subscriber with at least one
topic at that frequency; each reader sees only the sections of their own topics (compose's
per-topic variants), and a reader with nothing in their topics gets no email at all.

Once per period: the period's key (``2026-W48``, ``2026-11``) is stored in the edition's
audience, and the check-then-create runs under a lock (an advisory lock on PostgreSQL; on
SQLite every transaction already holds the single write lock), so two beat ticks, even
running together, create one digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch.db import utcnow
from dispatch.editions.choosing import items_published_between, order_items
from dispatch.editions.models import Edition, EditionItem

Period = Literal["weekly", "monthly"]
PERIODS: tuple[Period, ...] = ("weekly", "monthly")
TIMEZONE = ZoneInfo("Europe/Paris")
SEND_TIME = time(8, 0)
#: A digest whose time passed longer ago than this (the service was down) is not sent late;
#: the next one covers its items.
CATCH_UP = timedelta(days=1)
MAX_ITEMS = 80


@dataclass(frozen=True, slots=True)
class DigestPeriod:
    """One period's digest: when it is due (aware, UTC), its key, and the period before."""

    period: Period
    due_at: datetime
    previous_due_at: datetime
    key: str


def _at_eight(day: date) -> datetime:
    # Built from the local date each time, so 08:00 stays 08:00 across daylight saving.
    return datetime.combine(day, SEND_TIME, TIMEZONE).astimezone(UTC)


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def current_period(period: Period, now: datetime) -> DigestPeriod:
    """The latest `period` digest due at or before `now`."""
    local = now.astimezone(TIMEZONE)
    if period == "weekly":
        monday = local.date() - timedelta(days=local.weekday())
        if _at_eight(monday) > now:
            monday -= timedelta(days=7)
        year, week, _ = monday.isocalendar()
        return DigestPeriod(
            period,
            _at_eight(monday),
            _at_eight(monday - timedelta(days=7)),
            f"{year}-W{week:02d}",
        )
    first = _month_start(local.date())
    if _at_eight(first) > now:
        first = _month_start(first, 1)
    return DigestPeriod(
        period, _at_eight(first), _at_eight(_month_start(first, 1)), f"{first:%Y-%m}"
    )


def _lock(session: Session, key: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})


def _digests(session: Session, period: Period) -> list[Edition]:
    return list(
        session.scalars(
            select(Edition)
            .where(
                Edition.kind == "digest",
                Edition.audience["frequency"].as_string() == period,
            )
            .order_by(Edition.id.desc())
            .limit(20)
        )
    )


def existing_digest(session: Session, due: DigestPeriod) -> Edition | None:
    for edition in _digests(session, due.period):
        if (edition.audience or {}).get("period") == due.key:
            return edition
    return None


def since_for(session: Session, due: DigestPeriod) -> datetime:
    """Where this digest's items start: the end of the previous digest, at most one period."""
    since = due.previous_due_at
    for edition in _digests(session, due.period):
        until = (edition.audience or {}).get("until")
        if until:
            ended = datetime.fromisoformat(until)
            if due.previous_due_at < ended <= due.due_at:
                since = max(since, ended)
    return since


def create_digest(
    session: Session, period: Period, *, now: datetime | None = None, catch_up: bool = True
) -> Edition | None:
    """The digest of the current `period` if it is due, not made yet and has items.

    Returns the new edition (scheduled now), or None. Beat leaves a digest more than a day
    overdue to the next one (`catch_up`); staff asking for it by hand get it. Flushes; the
    caller commits.
    """
    now = now or utcnow()
    due = current_period(period, now)
    if catch_up and now - due.due_at > CATCH_UP:
        return None
    _lock(session, f"dispatch.digest.{period}")
    if existing_digest(session, due) is not None:
        return None
    since = since_for(session, due)
    found = [
        item
        for item in items_published_between(session, since=since, until=due.due_at)
        if item.topics
    ]
    items = order_items(found, now=now)[:MAX_ITEMS]
    if not items:
        return None  # nobody gets an empty digest
    edition = Edition(
        kind="digest",
        template="digest",
        subject="",  # the template titles it ("Your weekly digest · …") in each language
        locale=None,
        audience={
            "frequency": period,
            "period": due.key,
            "since": since.isoformat(),
            "until": due.due_at.isoformat(),
        },
        status="scheduled",
        send_at=now,
        period_key=f"{period}:{due.key}",
    )
    session.add(edition)
    session.flush()
    for position, item in enumerate(items):
        session.add(EditionItem(edition_id=edition.id, item_id=item.id, position=position))
    session.flush()
    return edition


def create_due_digests(session: Session, *, now: datetime | None = None) -> list[int]:
    """Beat: create whichever digests are due (weekly, monthly); returns their edition ids."""
    now = now or utcnow()
    created = []
    for period in PERIODS:
        edition = create_digest(session, period, now=now)
        if edition is not None:
            created.append(edition.id)
    return created
