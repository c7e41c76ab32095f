"""Calendar files and "add to calendar" links, read back by two independent parsers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import vobject
from icalendar import Calendar

from dispatch.editions import ics, samples

EVENT = samples.sample_items()[2]  # 17 July 2024, 12:00-15:00 UTC
ALL_DAY = samples.sample_items()[3]  # 19 September 2024, all day
TWO_DAYS = replace(
    ALL_DAY,
    id=203,
    title="Rencontres de la transformation publique",
    event_start=datetime(2027, 3, 18, tzinfo=UTC),
    event_end=datetime(2027, 3, 20, tzinfo=UTC),  # views: the day after the last (exclusive)
)
PARIS = ZoneInfo("Europe/Paris")
ORGANISER = ("La 27e Région", "lettre@la27eregion.example")


def _both(data: bytes) -> tuple[Calendar, vobject.base.Component]:
    """The file as icalendar reads it, and as vobject (a separate implementation) does."""
    return Calendar.from_ical(data), vobject.readOne(data.decode("utf-8"))


def test_a_timed_event_is_written_in_paris_time_with_its_vtimezone() -> None:
    data = ics.build_ics([EVENT], uid_domain="la27eregion.example", organiser=ORGANISER)
    calendar, other = _both(data)

    assert calendar["METHOD"] == "PUBLISH"
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Paris"
    (event,) = calendar.walk("VEVENT")
    assert b"DTSTART;TZID=Europe/Paris:20240717T140000" in data
    assert event.decoded("DTSTART") == datetime(2024, 7, 17, 12, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2024, 7, 17, 15, 0, tzinfo=UTC)
    assert event["LOCATION"] == "La Paillasse, 226 rue Saint-Denis, Paris"
    assert str(event["UID"]) == "item-201@la27eregion.example"
    assert event["SEQUENCE"] == 0 and event["STATUS"] == "CONFIRMED"
    assert event["ORGANIZER"].params["CN"] == "La 27e Région"
    # vobject resolves the TZID through the file's own VTIMEZONE.
    start = other.vevent.dtstart.value
    assert start.utcoffset() == timedelta(hours=2)
    assert start.astimezone(UTC) == datetime(2024, 7, 17, 12, 0, tzinfo=UTC)
    assert other.vevent.uid.value == "item-201@la27eregion.example"


def test_a_winter_time_is_read_back_the_same_by_both_parsers() -> None:
    winter = replace(
        EVENT,
        event_start=datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
        event_end=datetime(2026, 12, 3, 15, 30, tzinfo=UTC),
    )
    calendar, other = _both(ics.build_ics([winter], uid_domain="x.example"))
    assert calendar.walk("VEVENT")[0].decoded("DTSTART").astimezone(PARIS).hour == 14
    assert other.vevent.dtstart.value.utcoffset() == timedelta(hours=1)
    assert other.vevent.dtend.value.astimezone(UTC) == datetime(2026, 12, 3, 15, 30, tzinfo=UTC)


def test_all_day_events_are_dates_with_an_exclusive_end() -> None:
    data = ics.build_ics([ALL_DAY, TWO_DAYS], uid_domain="x.example")
    calendar, other = _both(data)
    one, two = calendar.walk("VEVENT")
    assert (one.decoded("DTSTART"), one.decoded("DTEND")) == (date(2024, 9, 19), date(2024, 9, 20))
    assert (two.decoded("DTSTART"), two.decoded("DTEND")) == (date(2027, 3, 18), date(2027, 3, 20))
    assert b"DTSTART;VALUE=DATE:20270318" in data
    # Nothing timed: no zone to declare.
    assert calendar.walk("VTIMEZONE") == []
    events = sorted(other.vevent_list, key=lambda e: e.dtstart.value)
    assert [(e.dtstart.value, e.dtend.value) for e in events] == [
        (date(2024, 9, 19), date(2024, 9, 20)),
        (date(2027, 3, 18), date(2027, 3, 20)),
    ]


def test_a_change_raises_the_sequence_and_a_cancellation_is_a_cancel() -> None:
    changed = replace(EVENT, sequence=1)
    calendar, other = _both(ics.build_ics([changed], uid_domain="x.example"))
    assert calendar.walk("VEVENT")[0]["SEQUENCE"] == 1
    assert other.vevent.sequence.value == "1"

    cancelled = replace(EVENT, sequence=2, cancelled=True)
    data = ics.build_ics([cancelled], uid_domain="x.example", method="CANCEL", organiser=ORGANISER)
    calendar, other = _both(data)
    assert calendar["METHOD"] == "CANCEL"
    event = calendar.walk("VEVENT")[0]
    assert (event["STATUS"], event["SEQUENCE"]) == ("CANCELLED", 2)
    assert str(event["UID"]) == "item-201@x.example"  # the same event, taken off
    assert other.method.value == "CANCEL" and other.vevent.status.value == "CANCELLED"


def test_the_same_event_gives_the_same_bytes() -> None:
    # DTSTAMP is when the event last changed: the file can be cached and compared.
    stamped = replace(EVENT, modified_at=datetime(2024, 7, 1, 8, 0, tzinfo=UTC))
    first = ics.build_ics([stamped], uid_domain="x.example")
    assert first == ics.build_ics([stamped], uid_domain="x.example")
    assert b"DTSTAMP:20240701T080000Z" in first


def test_online_and_registration_links_reach_the_calendar() -> None:
    online = replace(
        EVENT,
        location="",
        online_url="https://meet.google.com/abc-defg-hij",
        registration_url="https://www.helloasso.com/associations/la-27e-region/evenements/ag",
    )
    calendar, other = _both(ics.build_ics([online], uid_domain="x.example"))
    event = calendar.walk("VEVENT")[0]
    assert event["LOCATION"] == "https://meet.google.com/abc-defg-hij"
    assert str(event["CONFERENCE"]) == "https://meet.google.com/abc-defg-hij"
    assert "helloasso" in str(event["DESCRIPTION"])
    assert "meet.google.com" in other.vevent.description.value


def test_google_calendar_link_is_prefilled() -> None:
    query = parse_qs(urlsplit(ics.google_calendar_url(EVENT)).query)
    assert query["action"] == ["TEMPLATE"]
    assert query["text"] == ["Assemblée générale de La 27e Région"]
    assert query["dates"] == ["20240717T120000Z/20240717T150000Z"]
    assert query["location"] == ["La Paillasse, 226 rue Saint-Denis, Paris"]
    two_days = parse_qs(urlsplit(ics.google_calendar_url(TWO_DAYS)).query)
    assert two_days["dates"] == ["20270318/20270320"]


def test_outlook_link_is_prefilled_and_keeps_both_days() -> None:
    url = ics.outlook_calendar_url(EVENT)
    assert url.startswith("https://outlook.office.com/calendar/0/deeplink/compose?")
    query = parse_qs(urlsplit(url).query)
    assert query["subject"] == ["Assemblée générale de La 27e Région"]
    assert query["startdt"] == ["2024-07-17T12:00:00Z"]
    assert query["enddt"] == ["2024-07-17T15:00:00Z"]
    two_days = parse_qs(urlsplit(ics.outlook_calendar_url(TWO_DAYS)).query)
    assert (two_days["startdt"], two_days["enddt"], two_days["allday"]) == (
        ["2027-03-18"],
        ["2027-03-20"],
        ["true"],
    )


def test_an_item_without_a_start_is_not_an_event() -> None:
    with pytest.raises(ValueError, match="no start"):
        ics.build_ics([replace(EVENT, event_start=None)], uid_domain="x.example")
