"""iCalendar feeds: events, all-day events and recurrences expanded within a window.

Google Calendar, Outlook/Exchange (Windows zone names such as "Romance Standard Time") and
Nextcloud exports read alike. An occurrence keeps its guid when it is moved (RECURRENCE-ID),
so a moved occurrence is an edit of its item; an occurrence removed from its series (EXDATE)
or marked CANCELLED comes back as a cancelled event.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from dispatch.content.entries import ParsedEntry, ParseError, ParseResult, day_start, unique
from dispatch.content.sanitise import (
    clean_html,
    clean_title,
    excerpt,
    is_http_url,
    plain_text,
)
from dispatch.content.zones import zone_name

EXCERPT_LENGTH = 300
PARIS = "Europe/Paris"
# A broken value in one of these makes the event impossible to place in time.
_TIME_PROPERTIES = {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
_HIDDEN_CLASSES = {"PRIVATE", "CONFIDENTIAL"}
# Where calendars put the link to join online: RFC 7986, Google Meet, Microsoft Teams.
_ONLINE_PROPERTIES = ("CONFERENCE", "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL")
_ONLINE_PLACEHOLDERS = frozenset(
    {
        "réunion microsoft teams",
        "microsoft teams meeting",
        "microsoft teams",
        "google meet",
        "zoom",
        "en ligne",
        "online",
    }
)


def parse_calendar(
    data: bytes,
    *,
    base_url: str,
    window_start: datetime,
    window_end: datetime,
    default_timezone: str = PARIS,
) -> ParseResult:
    """The events of an .ics document that take place between `window_start` and `window_end`.

    Each occurrence of a recurring event is its own entry, with the guid "UID/start" (the
    start in UTC, or the date for all-day events); a one-off event's guid is its UID, so moving
    it keeps its item. Times without a zone are read in `default_timezone`. A cancelled
    event, or one marked private or confidential, comes back "unpublished".
    """
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("the window must be given as aware datetimes")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise ParseError(f"not an iCalendar file: {error}") from None
    if calendar.name != "VCALENDAR":
        raise ParseError("not an iCalendar file: no VCALENDAR")

    result = ParseResult()
    recurring: set[str] = set()
    masters: list[Any] = []
    kept = []
    for index, component in enumerate(calendar.subcomponents):
        if component.name != "VEVENT":
            kept.append(component)
            continue
        uid = str(component.get("UID") or "").strip()
        reason = _broken(component, uid)
        if reason:
            result.skipped.append((uid or f"event {index + 1}", reason))
            continue
        if any(name in component for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(uid)
        if "RRULE" in component and "RECURRENCE-ID" not in component:
            masters.append(component)
        kept.append(component)
    calendar.subcomponents = kept

    zone = ZoneInfo(default_timezone)
    try:
        occurrences = recurring_ical_events.of(calendar).between(window_start, window_end)
    except Exception as error:
        # The library raises many kinds of errors; to staff they all mean "unreadable".
        raise ParseError(f"could not expand the calendar's events: {error}") from None
    for occurrence in occurrences:
        uid = str(occurrence.get("UID")).strip()
        try:
            result.entries.append(
                _entry(occurrence, uid, uid in recurring, base_url=base_url, zone=zone)
            )
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            result.skipped.append((uid, f"unreadable event: {error}"))
    listed = {entry.guid for entry in result.entries}
    for master in masters:
        for entry in _excluded(
            master, base_url=base_url, zone=zone, window=(window_start, window_end)
        ):
            if entry.guid not in listed:
                result.entries.append(entry)
    return result


def _excluded(
    master: Any, *, base_url: str, zone: ZoneInfo, window: tuple[datetime, datetime]
) -> list[ParsedEntry]:
    """The occurrences a series' EXDATE removed, as cancelled events (within the window).

    Removing one date from a series is how calendars cancel a single session; the item
    made from that occurrence, if any, is then told apart from one that merely vanished.
    """
    uid = str(master.get("UID")).strip()
    start_value = master["DTSTART"].dt
    end_value = master["DTEND"].dt if "DTEND" in master else None
    duration = (end_value - start_value) if end_value is not None else None
    if duration is None and "DURATION" in master:
        duration = master["DURATION"].dt
    values = master.get("EXDATE")
    groups = values if isinstance(values, list) else [values] if values is not None else []
    entries = []
    for group in groups:
        for excluded in getattr(group, "dts", []):
            moment = excluded.dt
            if isinstance(start_value, datetime) and not isinstance(moment, datetime):
                continue
            begins = _aware(moment, zone) if isinstance(moment, datetime) else day_start(moment)
            if not window[0] <= begins <= window[1]:
                continue
            occurrence = master.copy()
            occurrence["DTSTART"] = icalendar.vDDDTypes(moment)
            if duration is not None:
                occurrence["DTEND"] = icalendar.vDDDTypes(moment + duration)
            occurrence["STATUS"] = "CANCELLED"
            try:
                entries.append(_entry(occurrence, uid, True, base_url=base_url, zone=zone))
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
    return entries


def _broken(component: Any, uid: str) -> str | None:
    if not uid:
        return "no UID"
    if "DTSTART" not in component:
        return "no DTSTART"
    for name, message in component.errors:
        if name in _TIME_PROPERTIES:
            return f"unreadable {name}: {message}"
    return None


def _entry(
    occurrence: Any, uid: str, recurring: bool, *, base_url: str, zone: ZoneInfo
) -> ParsedEntry:
    start_value = occurrence["DTSTART"].dt
    end_value = occurrence["DTEND"].dt if "DTEND" in occurrence else start_value
    all_day = not isinstance(start_value, datetime)
    timezone = None if all_day else _timezone_of(occurrence["DTSTART"], start_value, zone)
    if all_day:
        first_day = start_value
        # DTEND of an all-day event is the day after the last one.
        last_day = _as_date(end_value) - timedelta(days=1)
        start, end = day_start(first_day), day_start(max(first_day, last_day))
    else:
        start, end = _aware(start_value, zone), _aware(end_value, zone)

    guid = uid
    if recurring:
        original = occurrence.get("RECURRENCE-ID")
        slot = original.dt if original is not None else start_value
        guid = f"{uid}/{_stamp(slot, zone)}"

    title = clean_title(str(occurrence.get("SUMMARY") or "")) or "(sans titre)"
    url_value = str(occurrence.get("URL") or "").strip()
    url = urljoin(base_url, url_value) if url_value else None
    description = str(occurrence.get("DESCRIPTION") or "")
    summary_html = _description_html(description)
    text = plain_text(summary_html)
    status = str(occurrence.get("STATUS") or "").upper()
    visibility = str(occurrence.get("CLASS") or "").upper()
    cancelled = status == "CANCELLED"
    hidden = cancelled or visibility in _HIDDEN_CLASSES
    location = clean_title(str(occurrence.get("LOCATION") or "")) or None
    online = _online_url(occurrence)
    if location and is_http_url(location):
        # "LOCATION:https://…" is how many calendars say "online".
        online, location = online or location, None
    elif online and location and location.casefold() in _ONLINE_PLACEHOLDERS:
        location = None  # "Réunion Microsoft Teams" is the link's label, not a place
    return ParsedEntry(
        guid=guid,
        kind="event",
        title=title,
        url=url if is_http_url(url) else None,
        summary_html=summary_html,
        excerpt=excerpt(text, EXCERPT_LENGTH),
        categories=_categories(occurrence),
        published_at=_utc(occurrence.get("CREATED")),
        updated_at=_utc(occurrence.get("LAST-MODIFIED")),
        status="unpublished" if hidden else "published",
        event_start=start,
        event_end=end,
        all_day=all_day,
        location=location,
        event_timezone=timezone,
        online_url=online,
        organiser=_organiser(occurrence),
        event_status="cancelled" if cancelled else "confirmed",
    )


def _timezone_of(prop: Any, value: datetime, zone: ZoneInfo) -> str | None:
    """The IANA name of the zone an event is set in ("Romance Standard Time" → Europe/Paris)."""
    tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
    if value.tzinfo is None:
        return zone.key
    name = zone_name(str(tzid)) if tzid else zone_name(str(getattr(value.tzinfo, "key", "")))
    # A time in UTC says when, not where: it is shown in the organisation's zone.
    return None if name in ("UTC", "Etc/UTC") else name


def _online_url(component: Any) -> str | None:
    for name in _ONLINE_PROPERTIES:
        value = str(component.get(name) or "").strip()
        if is_http_url(value):
            return value
    return None


def _organiser(component: Any) -> str | None:
    """The organiser's name (ORGANIZER;CN=…); an address alone is not shown to readers."""
    organiser = component.get("ORGANIZER")
    if organiser is None:
        return None
    name = organiser.params.get("CN") if hasattr(organiser, "params") else None
    return clean_title(str(name or "")) or None


def _description_html(description: str) -> str:
    """DESCRIPTION is plain text; some calendars put HTML in it all the same."""
    if not description.strip():
        return ""
    if "<" in description and ">" in description:
        return clean_html(description)
    paragraphs = [part.strip() for part in description.replace("\r\n", "\n").split("\n\n")]
    rendered = [
        "<p>" + "<br>".join(html.escape(line) for line in part.split("\n")) + "</p>"
        for part in paragraphs
        if part
    ]
    return clean_html("".join(rendered))


def _categories(component: Any) -> tuple[str, ...]:
    values = component.get("CATEGORIES")
    if values is None:
        return ()
    groups = values if isinstance(values, list) else [values]
    names = [clean_title(str(name)) for group in groups for name in getattr(group, "cats", [])]
    return unique(names)


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _aware(value: datetime | date, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return day_start(value)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _utc(prop: Any) -> datetime | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return None


def _stamp(value: date | datetime, zone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return _aware(value, zone).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")
