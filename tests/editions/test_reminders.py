"""Event reminders: when they fall due, who they reach, and that each goes once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import EventsSettings, Settings
from dispatch.content.models import ContentItem
from dispatch.editions import reminders
from dispatch.editions.models import Edition, EventReminder
from tests import factories
from tests.editions.delivered import body_text, calendar_of, outbox, send_due

# Tuesday 24 November 2026, 10:00 in Paris; the workshop is nine days later, Thursday
# 3 December at 14:00 Paris (13:00 UTC, winter time).
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WORKSHOP = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
SEVEN_DAYS_BEFORE = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
DAY_BEFORE = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)


def _workshop(session: Session, **fields: object) -> ContentItem:
    fields.setdefault("first_seen_at", NOW)
    return factories.event(
        session,
        WORKSHOP,
        WORKSHOP + timedelta(hours=2, minutes=30),
        title="Atelier du jeudi : prototyper avec les usagers",
        **fields,
    )


def _slots(session: Session, settings: Settings, now: datetime) -> list[tuple[int, str]]:
    return [(s.offset_days, s.state) for s in reminders.plan(session, settings, now=now)]


def _reminded(session: Session) -> set[tuple[int, int, int]]:
    rows = session.execute(
        select(EventReminder.item_id, EventReminder.subscriber_id, EventReminder.offset_days)
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]


def test_nine_days_ahead_means_a_reminder_seven_days_and_one_day_before_at_its_paris_time(
    db_session: Session, settings: Settings
) -> None:
    event = _workshop(db_session)
    factories.subscriber(db_session, topics={"events": "weekly"})

    slots = reminders.plan(db_session, settings, now=NOW)
    assert [(s.offset_days, s.due_at, s.state) for s in slots] == [
        (7, SEVEN_DAYS_BEFORE, "planned"),
        (1, DAY_BEFORE, "planned"),
    ]
    assert slots[0].closes_at == DAY_BEFORE and slots[1].closes_at == event.event_start
    assert (
        reminders.create_due_reminders(
            db_session, settings, now=SEVEN_DAYS_BEFORE - timedelta(minutes=1)
        ).created
        == []
    )
    assert _slots(db_session, settings, SEVEN_DAYS_BEFORE) == [(7, "due"), (1, "planned")]


def test_summer_time_moves_nothing_the_reminder_keeps_the_events_clock(
    db_session: Session, settings: Settings
) -> None:
    # Thursday 1 April 2027, 14:00 Paris (summer, 12:00 UTC); a week before it is still
    # winter time, so 14:00 Paris is 13:00 UTC.
    factories.event(db_session, datetime(2027, 4, 1, 12, 0, tzinfo=UTC), first_seen_at=NOW)
    seven, one = reminders.plan(db_session, settings, now=datetime(2027, 3, 1, tzinfo=UTC))
    assert seven.due_at == datetime(2027, 3, 25, 13, 0, tzinfo=UTC)
    assert one.due_at == datetime(2027, 3, 31, 12, 0, tzinfo=UTC)


def test_an_all_day_event_is_reminded_in_the_morning(
    db_session: Session, settings: Settings
) -> None:
    factories.event(
        db_session,
        datetime(2027, 3, 18, tzinfo=UTC),
        datetime(2027, 3, 19, tzinfo=UTC),
        all_day=True,
        first_seen_at=NOW,
    )
    seven, one = reminders.plan(db_session, settings, now=datetime(2027, 3, 1, tzinfo=UTC))
    assert seven.due_at == datetime(2027, 3, 11, 8, 0, tzinfo=UTC)  # 09:00 Paris
    assert one.due_at == datetime(2027, 3, 17, 8, 0, tzinfo=UTC)
    assert one.closes_at == datetime(2027, 3, 17, 23, 0, tzinfo=UTC)  # midnight in Paris


def test_the_offsets_come_from_the_settings(db_session: Session, settings: Settings) -> None:
    _workshop(db_session)
    three = settings.model_copy(update={"events": EventsSettings(reminder_days=[3])})
    assert [s.offset_days for s in reminders.plan(db_session, three, now=NOW)] == [3]
    none = settings.model_copy(update={"events": EventsSettings(reminder_days=[])})
    assert reminders.plan(db_session, none, now=NOW) == []


def test_an_event_added_late_gets_its_last_reminder_only(
    db_session: Session, settings: Settings
) -> None:
    _workshop(db_session, first_seen_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    factories.subscriber(db_session, topics={"events": "immediately"})
    later = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert _slots(db_session, settings, later) == [(7, "missed"), (1, "planned")]
    assert _slots(db_session, settings, DAY_BEFORE) == [(7, "missed"), (1, "due")]


def test_a_reminder_goes_to_the_events_readers_who_keep_reminders_on(
    db_session: Session, settings: Settings
) -> None:
    event = _workshop(db_session)
    weekly = factories.subscriber(db_session, topics={"events": "weekly"})
    instant = factories.subscriber(db_session, topics={"events": "immediately", "blog": "weekly"})
    factories.subscriber(db_session, topics={"events": "monthly"}, event_reminders=False)
    factories.subscriber(db_session, topics={"blog": "immediately"})
    factories.subscriber(db_session, topics={"events": "weekly"}, status="unsubscribed")
    factories.subscriber(
        db_session, topics={"events": "weekly"}, paused_until=NOW + timedelta(days=30)
    )

    report = reminders.create_due_reminders(db_session, settings, now=SEVEN_DAYS_BEFORE)

    (edition_id,) = report.created
    edition = db_session.get(Edition, edition_id)
    assert edition is not None
    assert (edition.kind, edition.status, edition.send_at) == (
        "event",
        "scheduled",
        SEVEN_DAYS_BEFORE,
    )
    assert edition.audience["phase"] == "reminder" and edition.audience["offset_days"] == 7
    assert _reminded(db_session) == {(event.id, weekly.id, 7), (event.id, instant.id, 7)}


def test_each_reminder_is_made_once_however_often_the_tick_runs(
    db_session: Session, settings: Settings
) -> None:
    _workshop(db_session)
    factories.subscriber(db_session, topics={"events": "weekly"})
    first = reminders.create_due_reminders(db_session, settings, now=SEVEN_DAYS_BEFORE)
    again = reminders.create_due_reminders(
        db_session, settings, now=SEVEN_DAYS_BEFORE + timedelta(hours=1)
    )
    assert len(first.created) == 1 and again.created == []
    assert _slots(db_session, settings, SEVEN_DAYS_BEFORE + timedelta(hours=1)) == [
        (7, "sent"),
        (1, "planned"),
    ]
    day_before = reminders.create_due_reminders(db_session, settings, now=DAY_BEFORE)
    assert len(day_before.created) == 1
    assert db_session.scalar(select(func.count(EventReminder.id))) == 2


def test_nobody_to_remind_leaves_no_edition_and_a_later_reader_is_still_reminded(
    db_session: Session, settings: Settings
) -> None:
    _workshop(db_session)
    assert reminders.create_due_reminders(db_session, settings, now=SEVEN_DAYS_BEFORE).created == []
    assert db_session.scalar(select(func.count(Edition.id))) == 0
    factories.subscriber(db_session, topics={"events": "weekly"})
    later = SEVEN_DAYS_BEFORE + timedelta(hours=3)
    assert len(reminders.create_due_reminders(db_session, settings, now=later).created) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"reminders_off": True},
        {"event_status": "cancelled", "status": "unpublished"},
        {"status": "unpublished"},
    ],
)
def test_no_reminder_for_an_event_turned_off_cancelled_or_unpublished(
    db_session: Session, settings: Settings, fields: dict[str, object]
) -> None:
    _workshop(db_session, **fields)
    factories.subscriber(db_session, topics={"events": "weekly"})
    assert reminders.create_due_reminders(db_session, settings, now=SEVEN_DAYS_BEFORE).created == []


def test_no_reminder_for_a_past_event(db_session: Session, settings: Settings) -> None:
    _workshop(db_session)
    factories.subscriber(db_session, topics={"events": "weekly"})
    assert reminders.plan(db_session, settings, now=WORKSHOP + timedelta(minutes=1)) == []


def test_staff_switch_reminders_off_for_one_event(db_session: Session, settings: Settings) -> None:
    event = _workshop(db_session)
    factories.subscriber(db_session, topics={"events": "weekly"})
    reminders.set_reminders(db_session, event.id, on=False)
    assert _slots(db_session, settings, SEVEN_DAYS_BEFORE) == [(7, "off"), (1, "off")]
    reminders.set_reminders(db_session, event.id, on=True)
    assert _slots(db_session, settings, SEVEN_DAYS_BEFORE)[0] == (7, "due")


def test_the_reminder_reaches_each_reader_in_their_language_with_the_calendar_file(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session, session.begin():
        event = _workshop(session)
        event_id = event.id
        factories.subscriber(session, email="lea@example.org", topics={"events": "weekly"})
        factories.subscriber(
            session, email="emma@example.org", locale="en", topics={"events": "weekly"}
        )
        factories.subscriber(
            session, email="non@example.org", topics={"events": "weekly"}, event_reminders=False
        )
    with sessions() as session, session.begin():
        reminders.create_due_reminders(session, settings, now=DAY_BEFORE)

    send_due(sessions, settings, DAY_BEFORE)

    received = outbox(settings)
    assert sorted(received) == ["emma@example.org", "lea@example.org"]
    (french,) = received["lea@example.org"]
    assert french["Subject"] == (
        # French spacing in the event's own title too.
        "Rappel\u00a0: Atelier du jeudi\u00a0: prototyper avec les usagers, jeudi 3 décembre 2026"
    )
    assert "jeudi 3 décembre 2026, 14\u00a0h\u00a000 – 16\u00a0h\u00a030" in body_text(french)
    method, calendar = calendar_of(french)
    assert method == "PUBLISH"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]).startswith(f"item-{event_id}@")
    assert vevent.decoded("DTSTART") == WORKSHOP
    (english,) = received["emma@example.org"]
    assert english["Subject"] == (
        "Reminder: Atelier du jeudi : prototyper avec les usagers, Thursday, December 3, 2026"
    )

    # The same slot, ticked again: nobody is reminded twice.
    with sessions() as session, session.begin():
        assert (
            reminders.create_due_reminders(
                session, settings, now=DAY_BEFORE + timedelta(minutes=5)
            ).created
            == []
        )
    send_due(sessions, settings, DAY_BEFORE + timedelta(minutes=5))
    assert {k: len(v) for k, v in outbox(settings).items()} == {
        "emma@example.org": 1,
        "lea@example.org": 1,
    }


def test_a_reader_who_turns_reminders_off_before_the_send_gets_none(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with sessions() as session, session.begin():
        _workshop(session)
        reader = factories.subscriber(session, email="lea@example.org", topics={"events": "weekly"})
        reader_id = reader.id
        factories.subscriber(session, email="karim@example.org", topics={"events": "weekly"})
        reminders.create_due_reminders(session, settings, now=DAY_BEFORE)
    with sessions() as session, session.begin():
        from dispatch.audience.consent import Origin
        from dispatch.audience.models import Subscriber
        from dispatch.audience.service import set_event_reminders

        found = session.get(Subscriber, reader_id)
        assert found is not None
        assert set_event_reminders(session, found, Origin("test"), on=False)

    send_due(sessions, settings, DAY_BEFORE)
    assert list(outbox(settings)) == ["karim@example.org"]
