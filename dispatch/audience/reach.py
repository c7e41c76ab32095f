"""Who may be mailed now: the one rule every send path asks, and who wants what.

A reader is reachable when they are active, confirmed their address, have not paused their
mail, and their address is not suppressed. The first three are columns, so the rule is also
a SQL condition (`reachable`) for snapshots and counts; the suppression list is keyed by a
hash the database cannot compute, so it is checked on rows already read (`screen`), a whole
batch in one query. Newsletters, alerts, digests, reminders and test-sends all come here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from dispatch.audience.models import Preference, Subscriber, Suppression
from dispatch.audience.suppression import email_hash, is_suppressed
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.db import utcnow

_CHUNK = 200


def reachable(now: datetime | None = None) -> ColumnElement[bool]:
    """The condition on `Subscriber` for "may be mailed now", suppression aside."""
    now = now or utcnow()
    return and_(
        Subscriber.status == "active",
        Subscriber.confirmed_at.is_not(None),
        or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now),
    )


def wanting(
    *,
    topics: Sequence[str] = (),
    frequency: str | None = None,
    locale: str | None = None,
    reminders: bool = False,
    letter: bool = False,
    now: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Reachable readers in `locale` who follow any of `topics` at `frequency` (each optional).

    With `reminders`, only those who keep "remind me of events" on (event reminders); with
    `letter`, only those who chose the staff letter (newsletters).
    """
    conditions: list[ColumnElement[bool]] = [reachable(now)]
    if letter:
        conditions.append(Subscriber.letter.is_(True))
    if locale:
        conditions.append(Subscriber.locale == locale)
    if reminders:
        conditions.append(Subscriber.event_reminders.is_(True))
    if topics or frequency:
        preference = select(Preference.subscriber_id).where(
            Preference.subscriber_id == Subscriber.id
        )
        if topics:
            preference = preference.join(Topic, Topic.id == Preference.topic_id).where(
                Topic.slug.in_(list(topics))
            )
        if frequency:
            preference = preference.where(Preference.frequency == frequency)
        conditions.append(exists(preference))
    return conditions


@dataclass(frozen=True, slots=True)
class Reader:
    """What a send path knows of a reader when it decides: the columns the rule reads."""

    id: int
    email: str
    status: str
    confirmed_at: datetime | None
    paused_until: datetime | None


def why_unreachable(reader: Reader, *, suppressed: bool, now: datetime) -> str | None:
    """The reason `reader` must not be mailed now, or None: the same rule as `reachable`."""
    if reader.status != "active":
        return f"subscriber {reader.status}"
    if reader.confirmed_at is None:
        return "subscriber never confirmed their address"
    if suppressed:
        return "address suppressed"
    if reader.paused_until is not None and reader.paused_until > now:
        return f"subscriber paused their mail until {reader.paused_until:%Y-%m-%d}"
    return None


def suppressed_hashes(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of `hashes` (under the current key) are suppressed, in one query.

    Suppressions still stored under an older key are caught by the reader's status, which
    the same unsubscribe, bounce or complaint changed.
    """
    wanted = list(set(hashes))
    if not wanted:
        return set()
    rows = session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(wanted)))
    return set(rows)


def screen(
    session: Session, settings: Settings, readers: Iterable[Reader], *, now: datetime | None = None
) -> dict[int, str]:
    """Reader id -> why they must not be mailed, for the unreachable ones of `readers`."""
    now = now or utcnow()
    people = list(readers)
    hashes = {reader.id: email_hash(settings, reader.email) for reader in people}
    suppressed = suppressed_hashes(session, hashes.values())
    reasons: dict[int, str] = {}
    for reader in people:
        reason = why_unreachable(reader, suppressed=hashes[reader.id] in suppressed, now=now)
        if reason is not None:
            reasons[reader.id] = reason
    return reasons


def anyone_wants(
    session: Session,
    settings: Settings,
    *,
    topics: Sequence[str],
    frequency: str,
    now: datetime | None = None,
) -> bool:
    """Whether any reachable reader follows one of `topics` at `frequency`, suppression too.

    Candidates are read in chunks, so the usual answer (the first one is reachable) costs one
    small query; only a run of suppressed candidates reads further.
    """
    now = now or utcnow()
    query = (
        select(Subscriber)
        .where(*wanting(topics=topics, frequency=frequency, now=now))
        .order_by(Subscriber.id)
    )
    last = 0
    while True:
        chunk = list(session.scalars(query.where(Subscriber.id > last).limit(_CHUNK)))
        if not chunk:
            return False
        people = [reader(person) for person in chunk]
        if len(screen(session, settings, people, now=now)) < len(people):
            return True
        last = chunk[-1].id


def is_reachable(
    session: Session, settings: Settings, subscriber: Subscriber, *, now: datetime | None = None
) -> bool:
    """The rule for one subscriber already loaded, suppression included."""
    return not screen(session, settings, [reader(subscriber)], now=now)


def why_not_address(session: Session, settings: Settings, address: str) -> str | None:
    """For an address staff type (a test-send): why it must not be mailed, or None.

    A subscriber's address follows the whole rule; anyone else's only the suppression list.
    """
    normalised = address.strip().lower()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == normalised))
    if subscriber is not None:
        return screen(session, settings, [reader(subscriber)]).get(subscriber.id)
    return "address suppressed" if is_suppressed(session, settings, normalised) else None


def reader(subscriber: Subscriber) -> Reader:
    return Reader(
        subscriber.id,
        subscriber.email,
        subscriber.status,
        subscriber.confirmed_at,
        subscriber.paused_until,
    )


def followed_topics(
    session: Session, subscriber_ids: Iterable[int], *, frequency: str | None = None
) -> dict[int, set[str]]:
    """Subscriber id -> the topic slugs they follow (at `frequency`, when given)."""
    ids = list(subscriber_ids)
    found: dict[int, set[str]] = {}
    if not ids:
        return found
    query = (
        select(Preference.subscriber_id, Topic.slug)
        .join(Topic, Topic.id == Preference.topic_id)
        .where(Preference.subscriber_id.in_(ids))
    )
    if frequency:
        query = query.where(Preference.frequency == frequency)
    for subscriber_id, slug in session.execute(query):
        found.setdefault(subscriber_id, set()).add(slug)
    return found
