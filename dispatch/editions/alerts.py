"""Alerts: new items announced to the subscribers who chose "immediately".

Publication events are gathered into bursts: events less than `editions.alert_grouping_minutes`
after the first of a burst belong to it, and a burst goes out once its newest event is
`editions.alert_quiet_minutes` old, so that five posts published together make one email, not
five. A burst makes one alert edition, addressed to the "immediately" followers of any of its
topics; each reader's copy shows only the items of the topics they follow (a reader of #events
is not sent a blog post) and leaves out what they already received, so a reader who follows
two topics gets one email per burst, never two in the same second. Items nobody follows
"immediately" are left out. The alert is scheduled at once; the delivery tick starts it.

Exactly once: the alerts' receipt for an event is written in the same transaction that
creates its alert, and receipts are unique, so two ticks running together can never put the
same event in two alerts; the loser's alert is rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dispatch.audience.reach import anyone_wants
from dispatch.config import Settings
from dispatch.content.models import PublicationEvent
from dispatch.content.publications import acknowledge, pending_publications
from dispatch.db import utcnow
from dispatch.editions.choosing import order_items
from dispatch.editions.models import Edition, EditionItem

CONSUMER = "alerts"

#: Events read per tick; a longer backlog is worked through by the following ticks.
EVENTS_PER_TICK = 500


@dataclass
class AlertReport:
    """What one tick did, for logs and tests."""

    created: list[int] = field(default_factory=list)  # alert edition ids
    consumed: int = 0  # events handled (in an alert, or with nobody to tell)
    waiting: int = 0  # events in a burst that is still going on
    lost_races: int = 0  # bursts another tick took first


class _TakenError(Exception):
    """Another tick consumed these events first."""


def _burst_ready(burst: Sequence[PublicationEvent], now: datetime, settings: Settings) -> bool:
    quiet = timedelta(minutes=settings.editions.alert_quiet_minutes)
    return now - max(event.created_at for event in burst) >= quiet


def bursts(events: Sequence[PublicationEvent], settings: Settings) -> list[list[PublicationEvent]]:
    """Events (oldest first) cut into bursts of at most the grouping window from their first."""
    window = timedelta(minutes=settings.editions.alert_grouping_minutes)
    groups: list[list[PublicationEvent]] = []
    for event in sorted(events, key=lambda e: (e.created_at, e.id)):
        if groups and event.created_at - groups[-1][0].created_at < window:
            groups[-1].append(event)
        else:
            groups.append([event])
    return groups


def _announceable(event: PublicationEvent) -> bool:
    item = event.item
    return not event.silent and item.status == "published" and bool(item.topics)


def _consume(session: Session, event_ids: list[int], now: datetime) -> None:
    """Leave the alerts' receipts, or `_TakenError` if another tick already had any."""
    if not acknowledge(session, event_ids, consumer=CONSUMER, now=now):
        raise _TakenError


def _alert_edition(
    session: Session, events: Sequence[PublicationEvent], now: datetime
) -> Edition | None:
    # The newsletter's order and rules: a recurring event shows once (its next date), past
    # events are not announced. Nothing left to say: no alert.
    items = order_items([event.item for event in events], now=now)
    if not items:
        return None
    slugs = sorted({topic.slug for item in items for topic in item.topics})
    edition = Edition(
        kind="alert",
        template="alert",
        subject="",  # the template titles it: the item's title, or "New on …" for several
        locale=None,
        audience={"topics": slugs, "frequency": "immediately"},
        status="scheduled",
        send_at=now,
    )
    session.add(edition)
    session.flush()
    for position, item in enumerate(items):
        session.add(EditionItem(edition_id=edition.id, item_id=item.id, position=position))
    session.flush()
    return edition


def _handle_burst(
    session: Session,
    settings: Settings,
    burst: list[PublicationEvent],
    now: datetime,
    report: AlertReport,
) -> None:
    by_topics: dict[frozenset[str], list[PublicationEvent]] = {}
    for event in burst:
        by_topics.setdefault(frozenset(t.slug for t in event.item.topics), []).append(event)
    created: list[int] = []
    try:
        with session.begin_nested():
            wanted = [
                event
                for slugs, events in by_topics.items()
                if anyone_wants(
                    session, settings, topics=sorted(slugs), frequency="immediately", now=now
                )
                for event in events
            ]
            edition = _alert_edition(session, wanted, now) if wanted else None
            if edition is not None:
                created.append(edition.id)
            _consume(session, [event.id for event in burst], now)
    except _TakenError:
        report.lost_races += 1
        return
    report.created += created
    report.consumed += len(burst)


def create_alerts(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> AlertReport:
    """Turn every finished burst of publication events into alert editions (see module).

    Events with nothing to announce (silent ones, items unpublished since or without a
    topic) are consumed at once. Flushes; the caller commits. Safe to run at any time and
    from several workers at once.
    """
    now = now or utcnow()
    report = AlertReport()
    pending = pending_publications(session, consumer=CONSUMER, limit=EVENTS_PER_TICK)
    quiet = [event for event in pending if not _announceable(event)]
    if quiet:
        try:
            with session.begin_nested():
                _consume(session, [event.id for event in quiet], now)
            report.consumed += len(quiet)
        except _TakenError:
            report.lost_races += 1
    groups = bursts([event for event in pending if _announceable(event)], settings)
    for index, burst in enumerate(groups):
        if not _burst_ready(burst, now, settings):
            # Later bursts are newer still: none of them is ready either.
            report.waiting = sum(len(group) for group in groups[index:])
            break
        _handle_burst(session, settings, burst, now, report)
    return report
