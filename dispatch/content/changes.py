"""Changes of an event that its readers must hear about: a new time or place, a cancellation.

A poll that updates an event item compares what readers were told (its time, zone, place and
online link, and whether it takes place) with what the source says now. A difference on an
event that was online becomes an `EventChange` row, written in the same transaction as the
item's new values, and the item's calendar SEQUENCE goes up by one, so that calendars that
saved it take the new version. Content only records the fact; who is told, and whether, is
for its consumers (`dispatch.editions.notices`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.content.entries import SCHEDULE_FIELDS, ParsedEntry
from dispatch.content.models import ContentItem, EventChange


def schedule_of(source: ContentItem | ParsedEntry) -> dict[str, Any]:
    """The fields a change notice is about, as JSON-ready values."""
    values: dict[str, Any] = {}
    for name in SCHEDULE_FIELDS:
        value = getattr(source, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _moved(before: dict[str, Any], after: dict[str, Any]) -> bool:
    # A zone learnt later (a source that now says "Europe/Paris") moves nothing by itself.
    return any(
        before[name] != after[name] for name in SCHEDULE_FIELDS if name != "event_timezone"
    ) or (
        before["event_timezone"] is not None and before["event_timezone"] != after["event_timezone"]
    )


def detect_change(item: ContentItem, entry: ParsedEntry) -> tuple[str, dict[str, Any]] | None:
    """("changed" | "cancelled", before) when `entry` changes what `item`'s readers know.

    Called before the item takes the entry's values. An event back on after a cancellation
    counts as changed. A change of an event nobody could see (private, already unpublished)
    or of anything but an event is no change for readers.
    """
    if item.kind != "event" or entry.kind != "event":
        return None
    before = schedule_of(item)
    was_live = item.status == "published" and item.event_status == "confirmed"
    if was_live and entry.event_status == "cancelled":
        return "cancelled", before
    if was_live and entry.status == "published" and _moved(before, schedule_of(entry)):
        return "changed", before
    back_on = item.event_status == "cancelled" and entry.event_status == "confirmed"
    if back_on and entry.status == "published":
        return "changed", {**before, "cancelled": True}
    return None


def record_change(
    session: Session, item: ContentItem, kind: str, before: dict[str, Any], now: datetime
) -> EventChange:
    """The change as a row, and one more SEQUENCE for the item (its values already set)."""
    item.event_sequence = (item.event_sequence or 0) + 1
    change = EventChange(
        item_id=item.id,
        kind=kind,
        sequence=item.event_sequence,
        before=before,
        after=schedule_of(item),
        detected_at=now,
    )
    session.add(change)
    return change


def changes_of(session: Session, item_id: int) -> list[EventChange]:
    """An event's changes, oldest first."""
    return list(
        session.scalars(
            select(EventChange).where(EventChange.item_id == item_id).order_by(EventChange.id)
        )
    )
