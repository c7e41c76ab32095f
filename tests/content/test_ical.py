"""iCalendar feeds: time zones, all-day events, weekly recurrences with exceptions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dispatch.content.entries import ParsedEntry, ParseError
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
    series = [e for e in result.entries if e.guid.startswith("permanence-labs@")]
    sessions = [e for e in series if e.event_status == "confirmed"]
    (removed,) = [e for e in series if e.event_status == "cancelled"]

    # Six Tuesdays from 4 June, less the 18th, which comes back as a cancelled session.
    assert removed.guid == "permanence-labs@la27eregion.fr/20240618T120000Z"
    assert removed.status == "unpublished"
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

    # Eight events (one of them cancelled), and the session removed from its series (EXDATE).
    assert len(result.entries) == 9
    assert sum(e.event_status == "cancelled" for e in result.entries) == 2


YEAR_2027 = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))


def _export(name: str) -> list[ParsedEntry]:
    window_start, window_end = YEAR_2027
    result = parse_calendar(
        fixture_bytes(name), base_url=ICS_URL, window_start=window_start, window_end=window_end
    )
    assert result.skipped == []
    return result.entries


def test_a_google_calendar_export() -> None:
    entries = {entry.guid: entry for entry in _export("google-calendar.ics")}
    series = "4k9v2q7r1m8s3t0u6w5x@google.com"

    # Weekly on Thursdays at 14:00 Paris from 4 February to 4 March 2027.
    weekly = sorted(guid for guid in entries if guid.startswith(series))
    assert weekly == [
        f"{series}/20270204T130000Z",
        f"{series}/20270211T130000Z",
        f"{series}/20270218T130000Z",
        f"{series}/20270225T130000Z",
        f"{series}/20270304T130000Z",
    ]
    first = entries[f"{series}/20270204T130000Z"]
    assert (first.event_start, first.event_end) == (
        datetime(2027, 2, 4, 13, 0, tzinfo=UTC),
        datetime(2027, 2, 4, 15, 30, tzinfo=UTC),
    )
    assert first.event_timezone == "Europe/Paris"
    assert first.organiser == "La 27e Région"
    # The override (RECURRENCE-ID) keeps its slot's guid: moved to Friday morning in Nantes.
    moved = entries[f"{series}/20270211T130000Z"]
    assert moved.event_start == datetime(2027, 2, 12, 9, 0, tzinfo=UTC)
    assert moved.location == "Maison de la Région, 12 rue de la Paix, 44000 Nantes, France"
    # The EXDATE: that Thursday's session is off.
    removed = entries[f"{series}/20270218T130000Z"]
    assert (removed.event_status, removed.status) == ("cancelled", "unpublished")

    meeting = entries["0p1o2i3u4y5t6r7e8z9a@google.com"]
    assert meeting.all_day
    assert meeting.event_start is not None and meeting.event_end is not None
    assert (meeting.event_start.date(), meeting.event_end.date()) == (
        date(2027, 3, 18),
        date(2027, 3, 19),
    )
    webinar = entries["7g6f5d4s3q2w1e0r9t8y@google.com"]
    assert webinar.online_url == "https://meet.google.com/abc-defg-hij"
    assert webinar.location is None
    assert webinar.organiser == "Sarah Lefèvre"
    breakfast = entries["9z8y7x6w5v4u3t2s1r0q@google.com"]
    assert (breakfast.event_status, breakfast.status) == ("cancelled", "unpublished")


def test_an_outlook_export_with_windows_time_zone_names() -> None:
    entries = _export("outlook-exchange.ics")
    committee = next(e for e in entries if e.title == "Comité de pilotage « Résidences »")

    # "Romance Standard Time" is Paris: 9:30 on 30 March 2027 (summer time) is 7:30 UTC.
    assert committee.event_start == datetime(2027, 3, 30, 7, 30, tzinfo=UTC)
    assert committee.event_timezone == "Europe/Paris"
    assert committee.online_url == "https://teams.microsoft.com/l/meetup-join/19%3ameeting_transfo"
    assert committee.location is None  # "Réunion Microsoft Teams" names the link, not a place
    assert committee.organiser == "Direction de la transformation"

    seminar = next(e for e in entries if e.title == "Séminaire de la direction")
    assert seminar.all_day
    assert seminar.event_start is not None and seminar.event_end is not None
    assert (seminar.event_start.date(), seminar.event_end.date()) == (
        date(2027, 4, 5),
        date(2027, 4, 7),
    )
    # "GMT Standard Time" is London: 14:00 BST is 13:00 UTC, three Wednesdays.
    visits = [e for e in entries if e.title == "Visite du Policy Lab"]
    assert [e.event_start for e in visits] == [
        datetime(2027, 4, 21, 13, 0, tzinfo=UTC),
        datetime(2027, 4, 28, 13, 0, tzinfo=UTC),
        datetime(2027, 5, 5, 13, 0, tzinfo=UTC),
    ]
    assert {e.event_timezone for e in visits} == {"Europe/London"}
    private = next(e for e in entries if e.title.startswith("Point d"))
    assert (private.status, private.event_status) == ("unpublished", "confirmed")


def test_a_nextcloud_export() -> None:
    entries = _export("nextcloud.ics")
    series = [e for e in entries if e.guid.startswith("6d1f0c2a-5b3e-4f7a-9c8d-2e1f0a9b8c7d/")]

    # First Thursday of each month at 18:00 Paris, for 2 h 30 (DURATION), four times.
    assert [(e.event_start, e.event_end) for e in series] == [
        (datetime(2027, 3, 4, 17, 0, tzinfo=UTC), datetime(2027, 3, 4, 19, 30, tzinfo=UTC)),
        (datetime(2027, 4, 1, 16, 0, tzinfo=UTC), datetime(2027, 4, 1, 18, 30, tzinfo=UTC)),
        (datetime(2027, 5, 6, 16, 0, tzinfo=UTC), datetime(2027, 5, 6, 18, 30, tzinfo=UTC)),
        (datetime(2027, 6, 3, 16, 0, tzinfo=UTC), datetime(2027, 6, 3, 18, 30, tzinfo=UTC)),
    ]
    # The April session was cancelled through its own override.
    assert [e.event_status for e in series] == ["confirmed", "cancelled", "confirmed", "confirmed"]
    assert series[0].categories == ("Rencontre", "Réseau")
    assert series[0].url == "https://www.la27eregion.fr/agenda/aperos/"

    assembly = next(e for e in entries if e.title == "Assemblée générale 2027")
    assert assembly.all_day
    assert assembly.event_start is not None and assembly.event_end is not None
    assert assembly.event_start.date() == assembly.event_end.date() == date(2027, 6, 10)
    assert assembly.online_url == "https://visio.la27eregion.fr/ag-2027"
    assert assembly.organiser == "Conseil d'administration"
