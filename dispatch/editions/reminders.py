"""Event reminders: an email some days before each event, to the readers who follow it.

For every upcoming, confirmed event and every offset of `events.reminder_days` (7 and 1 by
default) there is one reminder slot. A slot falls due `offset` days before the event at the
event's own time of day, in Europe/Paris (so 14:00 stays 14:00 across a change of summer
time); an all-day event's at `events.all_day_reminder_time`. A slot can be sent from then
until the next slot falls due (or the event starts), and only if the event was already known
when it fell due: an event added three days ahead gets its last reminder, not a late "one
week before".

A due slot becomes one "event" edition (phase "reminder"), unique per (event, offset) by its
`period_key`, holding one `EventReminder` row per reader it is for: reachable readers who
follow one of the event's topics and keep "remind me of events" on, minus those already
reminded for that (event, offset). The sending engine sends it to those readers only, in
each one's language, with the event's calendar file. Both keys are unique, so two ticks
running together, a tick repeated after a crash, or a worker killed mid-send never remind a
reader twice for the same slot. Staff can turn reminders off for one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.audience.models import Subscriber
from dispatch.audience.reach import wanting
from dispatch.config import Settings
from dispatch.content.models import ContentItem
from dispatch.db import UTCDateTime, utcnow
from dispatch.editions.errors import DraftError
from dispatch.editions.models import Edition, EditionItem, EventReminder

#: How far ahead the schedule looks for events (the longest offset, and some room).
HORIZON = timedelta(days=120)


@dataclass(frozen=True)
class Slot:
    """One reminder of one event: when it falls due, until when it may go, where it stands.

    `state` is "sent" (its edition exists), "due" (it would go now), "planned" (later),
    "missed" (its time passed before the event was known, or before a tick could send it),
    "off" (staff turned this event's reminders off) or "nobody" (due, but no reader wants it).
    """

    item_id: int
    title: str
    event_start: datetime
    all_day: bool
    offset_days: int
    due_at: datetime
    closes_at: datetime
    state: str
    edition_id: int | None = None
    readers: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.item_id,
            "title": self.title,
            "event_start": self.event_start.isoformat(),
            "all_day": self.all_day,
            "offset_days": self.offset_days,
            "due_at": self.due_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "state": self.state,
            "edition": self.edition_id,
            "readers": self.readers,
        }


@dataclass
class ReminderReport:
    created: list[int] = field(default_factory=list)  # reminder edition ids
    slots: list[Slot] = field(default_factory=list)  # what was due, and what became of it


def period_key(item_id: int, offset_days: int) -> str:
    return f"reminder:{item_id}:{offset_days}"


def _starts_at(item: ContentItem, zone: ZoneInfo) -> datetime:
    """When the event begins: its start, or local midnight of an all-day event's first day."""
    assert item.event_start is not None
    if item.all_day:
        return datetime.combine(item.event_start.date(), datetime.min.time(), zone).astimezone(UTC)
    return item.event_start


def due_at(item: ContentItem, offset_days: int, settings: Settings) -> datetime:
    """When the `offset_days` reminder of `item` falls due (aware, UTC)."""
    assert item.event_start is not None
    zone = ZoneInfo(settings.app.timezone)
    if item.all_day:
        day = item.event_start.date() - timedelta(days=offset_days)
        clock = settings.events.all_day_time
    else:
        local = item.event_start.astimezone(zone)
        day, clock = local.date() - timedelta(days=offset_days), local.time()
    # Built from the local day and clock, so that summer time never moves it by an hour.
    return datetime.combine(day, clock, zone).astimezone(UTC)


def schedule_of(item: ContentItem, settings: Settings) -> list[tuple[int, datetime, datetime]]:
    """(offset, due, closes) for each reminder of `item`, the earliest first."""
    zone = ZoneInfo(settings.app.timezone)
    starts = _starts_at(item, zone)
    offsets = [d for d in settings.events.reminder_days if due_at(item, d, settings) < starts]
    times = [due_at(item, d, settings) for d in offsets]
    if not times:
        return []
    closes = [*times[1:], starts]
    return list(zip(offsets, times, closes, strict=True))


def upcoming_events(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    horizon: timedelta = HORIZON,
    item_id: int | None = None,
) -> list[ContentItem]:
    """Published, confirmed events starting after `now` and within `horizon`, soonest first."""
    query = select(ContentItem).where(
        ContentItem.kind == "event",
        ContentItem.status == "published",
        ContentItem.event_status == "confirmed",
        ContentItem.event_start.is_not(None),
        # All-day events are stored at midnight UTC of their first day: keep today's.
        ContentItem.event_start > now - timedelta(days=1),
        ContentItem.event_start <= now + horizon,
    )
    if item_id is not None:
        query = query.where(ContentItem.id == item_id)
    events = session.scalars(query.order_by(ContentItem.event_start, ContentItem.id))
    zone = ZoneInfo(settings.app.timezone)
    return [item for item in events if _starts_at(item, zone) > now]


def _editions(session: Session, items: list[ContentItem], offsets: list[int]) -> dict[str, int]:
    keys = [period_key(item.id, d) for item in items for d in offsets]
    if not keys:
        return {}
    rows = session.execute(
        select(Edition.period_key, Edition.id).where(Edition.period_key.in_(keys))
    )
    return {key: edition_id for key, edition_id in rows if key is not None}


def readers_of(item: ContentItem, *, now: datetime) -> list[ColumnElement[bool]]:
    """The conditions on `Subscriber` for who a reminder of `item` is meant for."""
    return wanting(topics=[t.slug for t in item.topics], reminders=True, now=now)


def _not_reminded(item_id: int, offset_days: int) -> ColumnElement[bool]:
    return ~exists().where(
        EventReminder.item_id == item_id,
        EventReminder.offset_days == offset_days,
        EventReminder.subscriber_id == Subscriber.id,
    )


def _count_readers(session: Session, item: ContentItem, offset_days: int, now: datetime) -> int:
    if not item.topics:
        return 0
    query = select(func.count(Subscriber.id)).where(
        *readers_of(item, now=now), _not_reminded(item.id, offset_days)
    )
    return int(session.scalar(query) or 0)


def plan(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    item_id: int | None = None,
    count_readers: bool = True,
) -> list[Slot]:
    """Every reminder slot of the upcoming events, as it stands at `now` (nothing written)."""
    now = now or utcnow()
    items = upcoming_events(session, settings, now=now, item_id=item_id)
    made = _editions(session, items, settings.events.reminder_days)
    slots = []
    for item in items:
        assert item.event_start is not None
        for offset, due, closes in schedule_of(item, settings):
            edition_id = made.get(period_key(item.id, offset))
            readers = None
            if edition_id is not None:
                state = "sent"
                readers = int(
                    session.scalar(
                        select(func.count(EventReminder.id)).where(
                            EventReminder.edition_id == edition_id
                        )
                    )
                    or 0
                )
            elif item.reminders_off:
                state = "off"
            elif now < due:
                state = "planned"
            elif now >= closes or due < item.first_seen_at:
                state = "missed"
            else:
                state = "due"
            if count_readers and state in ("due", "planned"):
                readers = _count_readers(session, item, offset, now)
                if state == "due" and readers == 0:
                    state = "nobody"
            slots.append(
                Slot(
                    item.id,
                    item.title,
                    item.event_start,
                    item.all_day,
                    offset,
                    due,
                    closes,
                    state,
                    edition_id,
                    readers,
                )
            )
    return slots


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _create(session: Session, item: ContentItem, slot: Slot, now: datetime) -> Edition | None:
    """The reminder edition of one due slot with its readers' rows, or None (nobody, or
    another tick made it first). Runs in a savepoint: nothing is left half made."""
    try:
        with session.begin_nested():
            edition = Edition(
                kind="event",
                template="event",
                subject="",  # the template titles it, in each reader's language
                locale=None,
                audience={
                    "phase": "reminder",
                    "event": item.id,
                    "offset_days": slot.offset_days,
                    "topics": sorted(t.slug for t in item.topics),
                    "reminders": True,
                },
                status="scheduled",
                send_at=now,
                period_key=period_key(item.id, slot.offset_days),
            )
            session.add(edition)
            session.flush()
            session.add(EditionItem(edition_id=edition.id, item_id=item.id, position=0))
            chosen = select(
                literal(item.id),
                Subscriber.id,
                literal(slot.offset_days),
                literal(edition.id),
                literal(now, UTCDateTime()),
            ).where(*readers_of(item, now=now), _not_reminded(item.id, slot.offset_days))
            session.execute(
                _insert(session)(EventReminder)
                .from_select(
                    ["item_id", "subscriber_id", "offset_days", "edition_id", "created_at"],
                    chosen,
                )
                .on_conflict_do_nothing(index_elements=["item_id", "subscriber_id", "offset_days"])
            )
            # Counted, not the insert's rowcount: drivers do not all report it for this form.
            readers = session.scalar(
                select(func.count(EventReminder.id)).where(EventReminder.edition_id == edition.id)
            )
            if not readers:
                raise _NobodyError
    except (_NobodyError, IntegrityError):
        return None
    return edition


class _NobodyError(Exception):
    """No reader for this reminder: roll its edition back, a later tick may find some."""


def create_due_reminders(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> ReminderReport:
    """Beat: every due reminder slot becomes its edition, scheduled now (see the module).

    Flushes; the caller commits. Safe to run at any time and from several workers at once.
    """
    now = now or utcnow()
    report = ReminderReport()
    due = [s for s in plan(session, settings, now=now, count_readers=False) if s.state == "due"]
    items = {item.id: item for item in upcoming_events(session, settings, now=now)}
    for slot in due:
        item = items.get(slot.item_id)
        if item is None or not item.topics:
            continue
        edition = _create(session, item, slot, now)
        if edition is not None:
            report.created.append(edition.id)
            report.slots.append(replace(slot, state="sent", edition_id=edition.id))
        else:
            report.slots.append(replace(slot, state="nobody"))
    session.flush()
    return report


def reminder_readers(edition_id: int) -> Any:
    """The subscriber ids a reminder edition is for (a subquery for the audience snapshot)."""
    return select(EventReminder.subscriber_id).where(EventReminder.edition_id == edition_id)


def set_reminders(session: Session, item_id: int, *, on: bool) -> ContentItem:
    """Staff's switch: no reminder at all for this event (already sent ones stay sent)."""
    item = session.get(ContentItem, item_id)
    if item is None or item.kind != "event":
        raise DraftError(f"No event with id {item_id} (see `dispatch events list`).")
    if item.reminders_off == on:
        item.reminders_off = not on
        session.flush()
        audit.record(
            session,
            "event.reminders_on" if on else "event.reminders_off",
            object_type="item",
            object_id=item.id,
            summary={"title": item.title},
        )
    return item
