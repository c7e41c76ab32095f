"""Calendar files (RFC 5545) and "add to calendar" links for event items.

One file format for every place an event goes: the `/events/{id}.ics` page, the file
attached to reminders and change notices. Each event keeps one UID (``item-<id>@<domain>``)
so that a reminder, a change or a cancellation updates the event a reader saved rather
than adding another; its SEQUENCE goes up with every change of time or place. Timed events
are written in the organisation's zone (``DTSTART;TZID=Europe/Paris``, with its VTIMEZONE);
all-day events as dates, DTEND the day after the last (exclusive, as RFC 5545 says).
A cancellation is ``METHOD:CANCEL`` with ``STATUS:CANCELLED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from dispatch.editions.views import ItemView

PRODID = "-//dispatch//editions//FR"
Method = Literal["PUBLISH", "CANCEL"]
_GOOGLE_DETAILS_LIMIT = 1000  # Google truncates long details anyway; keep URLs reasonable
_OUTLOOK_COMPOSE = "https://outlook.office.com/calendar/0/deeplink/compose"

# Europe/Paris as calendars have written it since 1996: the rule, not a list of dates, so that
# Outlook, Apple Calendar and Thunderbird read it alike for any year.
_PARIS_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Paris
X-LIC-LOCATION:Europe/Paris
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def event_span(item: ItemView) -> tuple[date | datetime, date | datetime]:
    """Start and end; for all-day events dates, the end exclusive. Without an end, a timed
    event lasts an hour and an all-day event its one day."""
    if item.event_start is None:
        raise ValueError(f"item {item.id} ({item.title!r}) is not an event: it has no start")
    if item.all_day:
        first = item.event_start.date()
        last = item.event_end.date() if item.event_end else first + timedelta(days=1)
        return first, max(last, first + timedelta(days=1))
    start = _utc(item.event_start)
    end = _utc(item.event_end) if item.event_end else start + timedelta(hours=1)
    return start, max(end, start)


def uid(item: ItemView, uid_domain: str) -> str:
    return f"item-{item.id}@{uid_domain}"


def _timezone_component(zone: str, years: tuple[int, int]) -> Timezone:
    if zone == "Europe/Paris":
        component = Timezone.from_ical(_PARIS_VTIMEZONE)
        assert isinstance(component, Timezone)
        return component
    return Timezone.from_tzid(
        zone, first_date=date(years[0], 1, 1), last_date=date(years[1], 12, 31)
    )


def _description(item: ItemView) -> str:
    parts = [item.excerpt]
    if item.online_url:
        parts.append(item.online_url)
    if item.registration_url:
        parts.append(item.registration_url)
    parts.append(item.url)
    return "\n\n".join(part for part in parts if part)


def _event(
    item: ItemView, *, uid_domain: str, zone: ZoneInfo, organiser: tuple[str, str] | None
) -> Event:
    start, end = event_span(item)
    event = Event()
    event.add("uid", uid(item, uid_domain))
    event.add("dtstamp", _utc(item.modified_at or item.event_start or datetime.now(UTC)))
    if isinstance(start, datetime) and isinstance(end, datetime):
        event.add("dtstart", start.astimezone(zone))
        event.add("dtend", end.astimezone(zone))
    else:
        event.add("dtstart", start)
        event.add("dtend", end)
    event.add("sequence", item.sequence)
    event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
    event.add("summary", item.title)
    location = item.location or item.online_url
    if location:
        event.add("location", location)
    if item.url:
        event.add("url", item.url)
    details = _description(item)
    if details:
        event.add("description", details)
    if item.online_url:
        # RFC 7986: where to join online, which recent clients show as a "join" button.
        event.add("conference", item.online_url, parameters={"VALUE": "URI", "FEATURE": "VIDEO"})
    if organiser is not None:
        name, address = organiser
        who = vCalAddress(f"mailto:{address}")
        who.params["CN"] = vText(name)
        event.add("organizer", who)
    event.add("transp", "TRANSPARENT" if item.all_day else "OPAQUE")
    return event


def build_ics(
    items: Sequence[ItemView],
    *,
    uid_domain: str,
    method: Method = "PUBLISH",
    timezone: str = "Europe/Paris",
    organiser: tuple[str, str] | None = None,
) -> bytes:
    """An iCalendar file with one VEVENT per event item.

    `method` is PUBLISH (the event, to add or update) or CANCEL (to take it off a calendar);
    `organiser` is (name, address), the sender that calendars show as the organiser. The
    file is the same bytes each time for the same items, so it can be cached and compared.
    """
    zone = ZoneInfo(timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    events = [_event(item, uid_domain=uid_domain, zone=zone, organiser=organiser) for item in items]
    timed = [item.event_start for item in items if item.event_start and not item.all_day]
    if timed:
        years = (min(timed).year - 1, max(timed).year + 1)
        calendar.add_component(_timezone_component(zone.key, years))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def _stamp(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return f"{_utc(value):%Y%m%dT%H%M%SZ}"
    return f"{value:%Y%m%d}"


def google_calendar_url(item: ItemView) -> str:
    """A Google Calendar "create event" link prefilled with the item."""
    start, end = event_span(item)
    details = "\n\n".join(part for part in (item.excerpt, item.online_url, item.url) if part)
    query = {"action": "TEMPLATE", "text": item.title, "dates": f"{_stamp(start)}/{_stamp(end)}"}
    if details:
        query["details"] = details[:_GOOGLE_DETAILS_LIMIT]
    location = item.location or item.online_url
    if location:
        query["location"] = location
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def _outlook_time(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.combine(value, time(0, 0)).strftime("%Y-%m-%d")


def outlook_calendar_url(item: ItemView) -> str:
    """An Outlook on the web (Microsoft 365) "new event" link prefilled with the item."""
    start, end = event_span(item)
    query = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": item.title,
        "startdt": _outlook_time(start),
        "enddt": _outlook_time(end),
    }
    if item.all_day:
        query["allday"] = "true"
    location = item.location or item.online_url
    if location:
        query["location"] = location
    details = "\n\n".join(part for part in (item.excerpt, item.online_url, item.url) if part)
    if details:
        query["body"] = details[:_GOOGLE_DETAILS_LIMIT]
    return f"{_OUTLOOK_COMPOSE}?{urlencode(query)}"
