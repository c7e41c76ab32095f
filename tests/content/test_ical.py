"""iCalendar feeds: time zones, all-day events, weekly recurrences with exceptions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatch.content.entries import ParseError
from dispatch.content.fetch import FetchPolicy, fetch
from dispatch.content.ical import parse_calendar
from tests.content.feed_server import FeedServer, fixture_bytes

ICS_URL = "https://www.la27eregion.fr/agenda.ics"
JUNE = datetime(2024, 6, 1, tzinfo=UTC)
AUGUST = datetime(2024, 8, 1, tzinfo=UTC)


def test_an_event_in_paris_time_is_an_aware_utc_datetime() -> None:
    result = parse_calendar(
        fixture_bytes("agenda.ics"), base_url=ICS_URL, window_start=JUNE, window_end=AUGUST
    )
    assembly = next(e for e in result.entries if e.guid == "ag-2024@la27eregion.fr")

    assert assembly.title == "Assemblée générale de la 27e Région"
    assert assembly.event_start == datetime(2024, 6, 7, 16, 0, tzinfo=UTC)
    assert assembly.event_end == datetime(2024, 6, 7, 19, 30, tzinfo=UTC)
    assert assembly.location == "Péniche Antipode, 55 quai de la Seine, 75019 Paris"
    assert assembly.url == "https://www.la27eregion.fr/evenement/assemblee-generale-2024/"
    assert assembly.categories == ("Vie de l’asso", "AG")
    assert assembly.summary_html.startswith("<p>Bilan de l’année, rapport moral")
    assert "</p><p>En visio" in assembly.summary_html
    assert assembly.status == "published"


def test_an_all_day_event_keeps_its_days() -> None:
    result = parse_calendar(
        fixture_bytes("agenda.ics"), base_url=ICS_URL, window_start=JUNE, window_end=AUGUST
    )
    summer = next(e for e in result.entries if e.guid == "universite-ete-2024@la27eregion.fr")

    assert summer.all_day
    assert summer.title == "Université d’été « Chantiers publics »"
    assert summer.event_start is not None
    assert summer.event_end is not None
    # DTEND is exclusive in iCalendar: 3 to 6 July means the 3rd, 4th and 5th.
    assert summer.event_start.date().isoformat() == "2024-07-03"
    assert summer.event_end.date().isoformat() == "2024-07-05"


def test_a_weekly_recurrence_is_expanded_without_its_exception() -> None:
    result = parse_calendar(
        fixture_bytes("agenda.ics"), base_url=ICS_URL, window_start=JUNE, window_end=AUGUST
    )
    sessions = [e for e in result.entries if e.guid.startswith("permanence-labs@")]

    # Six Tuesdays from 4 June, less the 18th.
    assert [e.event_start.date().isoformat() for e in sessions if e.event_start] == [
        "2024-06-04",
        "2024-06-11",
        "2024-06-25",
        "2024-07-02",
        "2024-07-09",
    ]
    assert len({e.guid for e in sessions}) == 5
    assert sessions[0].guid == "permanence-labs@la27eregion.fr/20240604T120000Z"
    assert sessions[0].event_start == datetime(2024, 6, 4, 12, 0, tzinfo=UTC)


def test_only_the_window_is_expanded() -> None:
    result = parse_calendar(
        fixture_bytes("agenda.ics"),
        base_url=ICS_URL,
        window_start=datetime(2024, 6, 20, tzinfo=UTC),
        window_end=datetime(2024, 7, 1, tzinfo=UTC),
    )

    assert [e.guid for e in result.entries] == ["permanence-labs@la27eregion.fr/20240625T120000Z"]


def test_a_cancelled_event_is_unpublished() -> None:
    result = parse_calendar(
        fixture_bytes("agenda.ics"), base_url=ICS_URL, window_start=JUNE, window_end=AUGUST
    )
    workshop = next(e for e in result.entries if e.guid == "atelier-annule@la27eregion.fr")

    assert workshop.status == "unpublished"


def test_guids_stay_the_same_from_one_poll_to_the_next() -> None:
    def hashes() -> dict[str, str]:
        result = parse_calendar(
            fixture_bytes("agenda.ics"), base_url=ICS_URL, window_start=JUNE, window_end=AUGUST
        )
        return {entry.guid: entry.content_hash for entry in result.entries}

    assert hashes() == hashes()


BROKEN = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//FR\r
BEGIN:VEVENT\r
UID:bad-date@la27eregion.fr\r
DTSTART:notadate\r
SUMMARY:Date illisible\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Sans UID\r
DTSTART:20240610T100000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:good@la27eregion.fr\r
DTSTART:20240612T100000\r
DTEND:20240612T120000\r
SUMMARY:Atelier <script>alert(1)</script>design\r
DESCRIPTION:<p onclick="x()">Venez</p><script>alert(2)</script>\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_broken_events_are_skipped_and_the_good_one_comes_in() -> None:
    result = parse_calendar(BROKEN, base_url=ICS_URL, window_start=JUNE, window_end=AUGUST)

    (good,) = result.entries
    assert good.guid == "good@la27eregion.fr"
    # A time without a zone is read in Paris.
    assert good.event_start == datetime(2024, 6, 12, 8, 0, tzinfo=UTC)
    assert good.title == "Atelier design"
    assert good.summary_html == "<p>Venez</p>"
    reasons = dict(result.skipped)
    assert reasons["bad-date@la27eregion.fr"].startswith("unreadable DTSTART")
    assert reasons["event 2"] == "no UID"


def test_what_is_not_a_calendar_is_an_error() -> None:
    with pytest.raises(ParseError, match="not an iCalendar file"):
        parse_calendar(b"<html></html>", base_url=ICS_URL, window_start=JUNE, window_end=AUGUST)


def test_a_calendar_fetched_over_http_parses(server: FeedServer) -> None:
    response = fetch(
        server.url("/fixtures/agenda.ics"), policy=FetchPolicy(allow_private_hosts=True)
    )

    result = parse_calendar(
        response.body, base_url=response.url, window_start=JUNE, window_end=AUGUST
    )

    assert len(result.entries) == 8
