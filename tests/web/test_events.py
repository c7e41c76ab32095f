"""`/events/{id}.ics`: every event's calendar file, as a calendar application fetches it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import vobject
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import Engine

from dispatch import migrate
from dispatch.config import AppSettings, Settings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.web.app import create_app
from tests import factories

WORKSHOP = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)


@pytest.fixture
def web_settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return build_settings(app=AppSettings(data_dir=tmp_path, base_url="http://testserver"))


@pytest.fixture
def engine(web_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(web_settings.database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client(web_settings: Settings, engine: Engine) -> TestClient:
    return TestClient(create_app(web_settings, engine=engine))


def _event(engine: Engine, **fields: object) -> int:
    with make_sessionmaker(engine)() as session, session.begin():
        return factories.event(session, WORKSHOP, WORKSHOP + timedelta(hours=2), **fields).id


def test_an_event_is_served_as_a_calendar_file(client: TestClient, engine: Engine) -> None:
    event_id = _event(engine, title="Atelier du jeudi", event_sequence=2)
    response = client.get(f"/events/{event_id}.ics")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    calendar = Calendar.from_ical(response.content)
    assert calendar["METHOD"] == "PUBLISH"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]) == f"item-{event_id}@lettre.dispatch.localhost"
    assert vevent["SEQUENCE"] == 2 and vevent["SUMMARY"] == "Atelier du jeudi"
    assert vevent.decoded("DTSTART") == WORKSHOP
    assert vobject.readOne(response.text).vevent.dtstart.value.astimezone(UTC) == WORKSHOP


def test_the_file_does_not_change_between_two_requests(client: TestClient, engine: Engine) -> None:
    event_id = _event(engine)
    first = client.get(f"/events/{event_id}.ics")
    again = client.get(f"/events/{event_id}.ics", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert client.get(f"/events/{event_id}.ics").content == first.content


def test_a_two_day_event_covers_both_days(client: TestClient, engine: Engine) -> None:
    with make_sessionmaker(engine)() as session, session.begin():
        event_id = factories.event(
            session,
            datetime(2027, 3, 18, tzinfo=UTC),
            datetime(2027, 3, 19, tzinfo=UTC),  # the last day, as a poll stores it
            all_day=True,
        ).id
    (vevent,) = Calendar.from_ical(client.get(f"/events/{event_id}.ics").content).walk("VEVENT")
    assert (vevent.decoded("DTSTART"), vevent.decoded("DTEND")) == (
        date(2027, 3, 18),
        date(2027, 3, 20),
    )


def test_a_cancelled_event_is_served_as_a_cancellation(client: TestClient, engine: Engine) -> None:
    event_id = _event(engine, event_status="cancelled", status="unpublished", event_sequence=1)
    calendar = Calendar.from_ical(client.get(f"/events/{event_id}.ics").content)
    assert calendar["METHOD"] == "CANCEL"
    assert calendar.walk("VEVENT")[0]["STATUS"] == "CANCELLED"


def test_only_events_online_have_a_calendar_file(client: TestClient, engine: Engine) -> None:
    hidden = _event(engine, status="unpublished")
    with make_sessionmaker(engine)() as session, session.begin():
        post = factories.item(session).id
    assert client.get(f"/events/{hidden}.ics").status_code == 404
    assert client.get(f"/events/{post}.ics").status_code == 404
    assert client.get("/events/999999.ics").status_code == 404
