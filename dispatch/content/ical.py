"""iCalendar feeds: events, all-day events and recurrences expanded within a window."""

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

EXCERPT_LENGTH = 300
PARIS = "Europe/Paris"
# A broken value in one of these makes the event impossible to place in time.
_TIME_PROPERTIES = {"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
_HIDDEN_CLASSES = {"PRIVATE", "CONFIDENTIAL"}


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
    return result


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
    hidden = status == "CANCELLED" or visibility in _HIDDEN_CLASSES
    location = clean_title(str(occurrence.get("LOCATION") or "")) or None
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
    )


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
