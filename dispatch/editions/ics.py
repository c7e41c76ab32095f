"""Calendar files and "add to calendar" links for event items.

Timed events are written in UTC (no VTIMEZONE block to get wrong); all-day events as dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from icalendar import Calendar, Event

from dispatch.editions.views import ItemView

PRODID = "-//dispatch//editions//FR"
_GOOGLE_DETAILS_LIMIT = 1000  # Google truncates long details anyway; keep URLs reasonable


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _span(item: ItemView) -> tuple[date | datetime, date | datetime]:
    """Start and (exclusive for all-day) end; an event without an end lasts an hour or a day."""
    if item.event_start is None:
        raise ValueError(f"item {item.id} ({item.title!r}) is not an event: it has no start")
    if item.all_day:
        first = item.event_start.date()
        last = item.event_end.date() if item.event_end else first + timedelta(days=1)
        return first, max(last, first + timedelta(days=1))
    start = _utc(item.event_start)
    end = _utc(item.event_end) if item.event_end else start + timedelta(hours=1)
    return start, max(end, start)


def build_ics(
    items: tuple[ItemView, ...] | list[ItemView],
    *,
    uid_domain: str,
    description: str = "",
    stamp: datetime | None = None,
) -> bytes:
    """An iCalendar file (METHOD:PUBLISH) with one VEVENT per event item.

    UIDs are stable (``item-<id>@<uid_domain>``) so that a reminder updates the event the
    reader saved from the announcement rather than adding a second one.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    now = _utc(stamp or datetime.now(UTC))
    for item in items:
        start, end = _span(item)
        event = Event()
        event.add("uid", f"item-{item.id}@{uid_domain}")
        event.add("dtstamp", now)
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", item.title)
        if item.location:
            event.add("location", item.location)
        if item.url:
            event.add("url", item.url)
        details = description or item.excerpt
        if details or item.url:
            event.add("description", "\n\n".join(part for part in (details, item.url) if part))
        calendar.add_component(event)
    return calendar.to_ical()


def google_calendar_url(item: ItemView) -> str:
    """A Google Calendar "create event" link prefilled with the item."""
    start, end = _span(item)
    if isinstance(start, datetime) and isinstance(end, datetime):
        dates = f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    else:
        dates = f"{start:%Y%m%d}/{end:%Y%m%d}"
    details = "\n\n".join(part for part in (item.excerpt, item.url) if part)
    query = {"action": "TEMPLATE", "text": item.title, "dates": dates}
    if details:
        query["details"] = details[:_GOOGLE_DETAILS_LIMIT]
    if item.location:
        query["location"] = item.location
    return "https://calendar.google.com/calendar/render?" + urlencode(query)
