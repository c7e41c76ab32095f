"""An event's changes, as polls see them: new time or place, cancellation, moved occurrences."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import AppSettings, ContentSettings, Settings, build_settings
from dispatch.content import sources
from dispatch.content.changes import changes_of
from dispatch.content.models import ContentItem
from dispatch.content.polling import poll_source
from dispatch.db import session_scope
from tests import factories
from tests.content.site import Site, running_site

pytestmark = pytest.mark.usefixtures("frozen_window")


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//FR\r\n"
        + "".join(events)
        + ("END:VCALENDAR\r\n")
    )


def event(uid: str, start: str, end: str, *extra: str, summary: str = "Atelier") -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261201T090000Z",
        f"DTSTART;TZID=Europe/Paris:{start}",
        f"DTEND;TZID=Europe/Paris:{end}",
        f"SUMMARY:{summary}",
        "LOCATION:La 27e Région\\, 5 rue de Charonne\\, Paris",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def frozen_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls run on 1 December 2026, so the 2027 events below are inside the window."""
    from datetime import UTC, datetime

    from dispatch.content import polling

    monkeypatch.setattr(polling, "utcnow", lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        content=ContentSettings(allow_private_hosts=True),
    )


class Calendar:
    """One iCal source on the test site, polled on demand."""

    def __init__(self, site: Site, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.site, self.sessions, self.settings = site, sessions, settings
        with session_scope(sessions) as session:
            factories.topic(session, "events")
            self.source_id = sources.add_source(
                session, url=site.url("/agenda.ics"), kind="ical", topic_slugs=["events"]
            ).id

    def poll(self, *events: str) -> None:
        self.site.serve("/agenda.ics", calendar(*events), "text/calendar")
        with session_scope(self.sessions) as session:
            assert sources.claim_source(session, self.source_id)
        report = poll_source(
            self.source_id, settings=self.settings, scope=lambda: session_scope(self.sessions)
        )
        assert report.status == "ok", report.error

    def item(self, guid: str) -> ContentItem:
        with session_scope(self.sessions) as session:
            found = session.scalar(select(ContentItem).where(ContentItem.guid == guid))
            assert found is not None
            session.expunge(found)
            return found

    def changes(self, guid: str) -> list[tuple[str, int, dict[str, object]]]:
        item_id = self.item(guid).id
        with session_scope(self.sessions) as session:
            return [(c.kind, c.sequence, c.before) for c in changes_of(session, item_id)]


@pytest.fixture
def agenda(site: Site, sessions: sessionmaker[Session], local_settings: Settings) -> Calendar:
    return Calendar(site, sessions, local_settings)


def test_a_new_time_is_a_change_with_the_next_sequence(agenda: Calendar) -> None:
    agenda.poll(event("ag@27", "20270610T180000", "20270610T210000"))
    assert agenda.item("ag@27").event_sequence == 0
    agenda.poll(event("ag@27", "20270610T183000", "20270610T213000"))

    item = agenda.item("ag@27")
    assert item.event_sequence == 1
    [(kind, sequence, before)] = agenda.changes("ag@27")
    assert (kind, sequence) == ("changed", 1)
    assert before["event_start"] == "2027-06-10T16:00:00+00:00"


def test_a_new_place_is_a_change_but_a_new_description_is_not(agenda: Calendar) -> None:
    agenda.poll(event("ag@27", "20270610T180000", "20270610T210000"))
    agenda.poll(event("ag@27", "20270610T180000", "20270610T210000", "DESCRIPTION:Ordre du jour"))
    assert agenda.changes("ag@27") == []
    moved = event("ag@27", "20270610T180000", "20270610T210000").replace(
        "La 27e Région\\, 5 rue de Charonne\\, Paris", "Péniche Antipode\\, Paris"
    )
    agenda.poll(moved)
    assert [kind for kind, _, _ in agenda.changes("ag@27")] == ["changed"]


def test_a_cancellation_and_its_return(agenda: Calendar) -> None:
    agenda.poll(event("ag@27", "20270610T180000", "20270610T210000"))
    agenda.poll(event("ag@27", "20270610T180000", "20270610T210000", "STATUS:CANCELLED"))
    item = agenda.item("ag@27")
    assert (item.status, item.event_status, item.event_sequence) == ("unpublished", "cancelled", 1)
    agenda.poll(event("ag@27", "20270610T180000", "20270610T210000", "STATUS:CONFIRMED"))

    item = agenda.item("ag@27")
    assert (item.status, item.event_status, item.event_sequence) == ("published", "confirmed", 2)
    changes = agenda.changes("ag@27")
    assert [(kind, sequence) for kind, sequence, _ in changes] == [
        ("cancelled", 1),
        ("changed", 2),
    ]
    assert changes[1][2]["cancelled"] is True


def test_an_event_cancelled_before_it_was_seen_is_not_kept(agenda: Calendar) -> None:
    agenda.poll(
        event("ag@27", "20270610T180000", "20270610T210000"),
        event("old@27", "20270611T180000", "20270611T210000", "STATUS:CANCELLED"),
    )
    with session_scope(agenda.sessions) as session:
        guids = set(session.scalars(select(ContentItem.guid)))
    assert guids == {"ag@27"}


WEEKLY = ("RRULE:FREQ=WEEKLY;COUNT=3",)


def test_a_moved_occurrence_is_a_change_of_that_occurrence_only(agenda: Calendar) -> None:
    agenda.poll(event("jeudi@27", "20270204T140000", "20270204T163000", *WEEKLY))
    override = event(
        "jeudi@27",
        "20270212T100000",
        "20270212T123000",
        "RECURRENCE-ID;TZID=Europe/Paris:20270211T140000",
    )
    agenda.poll(event("jeudi@27", "20270204T140000", "20270204T163000", *WEEKLY), override)

    assert [k for k, _, _ in agenda.changes("jeudi@27/20270211T130000Z")] == ["changed"]
    assert agenda.changes("jeudi@27/20270204T130000Z") == []
    assert agenda.changes("jeudi@27/20270218T130000Z") == []


def test_a_session_removed_from_its_series_is_cancelled(agenda: Calendar) -> None:
    agenda.poll(event("jeudi@27", "20270204T140000", "20270204T163000", *WEEKLY))
    agenda.poll(
        event(
            "jeudi@27",
            "20270204T140000",
            "20270204T163000",
            *WEEKLY,
            "EXDATE;TZID=Europe/Paris:20270211T140000",
        )
    )

    removed = agenda.item("jeudi@27/20270211T130000Z")
    assert (removed.event_status, removed.status) == ("cancelled", "unpublished")
    assert [k for k, _, _ in agenda.changes("jeudi@27/20270211T130000Z")] == ["cancelled"]
    assert agenda.item("jeudi@27/20270218T130000Z").event_status == "confirmed"
