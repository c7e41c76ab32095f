"""Calendar attachments and "add to calendar" links for event emails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar

from dispatch.editions import ics, samples

EVENT = samples.sample_items()[2]  # 17 July 2024, 12:00-15:00 UTC
ALL_DAY = samples.sample_items()[3]  # 19 September 2024, all day


def test_ics_file_opens_in_a_calendar_with_the_event():
    data = ics.build_ics([EVENT, ALL_DAY], uid_domain="la27eregion.example")
    calendar = Calendar.from_ical(data)
    assert calendar["METHOD"] == "PUBLISH"
    timed, whole_day = calendar.walk("VEVENT")
    assert timed["SUMMARY"] == "Assemblée générale de La 27e Région"
    assert timed.decoded("DTSTART") == datetime(2024, 7, 17, 12, 0, tzinfo=UTC)
    assert timed.decoded("DTEND") == datetime(2024, 7, 17, 15, 0, tzinfo=UTC)
    assert timed["LOCATION"] == "La Paillasse, 226 rue Saint-Denis, Paris"
    assert str(timed["UID"]) == "item-201@la27eregion.example"
    assert whole_day.decoded("DTSTART") == date(2024, 9, 19)
    assert whole_day.decoded("DTEND") == date(2024, 9, 20)


def test_uid_is_stable_so_a_reminder_updates_the_saved_event():
    first = Calendar.from_ical(ics.build_ics([EVENT], uid_domain="x.example"))
    second = Calendar.from_ical(ics.build_ics([EVENT], uid_domain="x.example"))
    assert first.walk("VEVENT")[0]["UID"] == second.walk("VEVENT")[0]["UID"]


def test_google_calendar_link_is_prefilled():
    query = parse_qs(urlsplit(ics.google_calendar_url(EVENT)).query)
    assert query["action"] == ["TEMPLATE"]
    assert query["text"] == ["Assemblée générale de La 27e Région"]
    assert query["dates"] == ["20240717T120000Z/20240717T150000Z"]
    assert query["location"] == ["La Paillasse, 226 rue Saint-Denis, Paris"]
    all_day = parse_qs(urlsplit(ics.google_calendar_url(ALL_DAY)).query)
    assert all_day["dates"] == ["20240919/20240920"]


def test_an_item_without_a_start_is_not_an_event():
    with pytest.raises(ValueError, match="no start"):
        ics.build_ics([replace(EVENT, event_start=None)], uid_domain="x.example")
