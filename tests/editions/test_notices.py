"""Change and cancellation notices: one per change, to the readers who were sent the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.content.changes import record_change, schedule_of
from dispatch.content.models import ContentItem
from dispatch.editions import notices, reminders
from dispatch.editions.models import Edition, EventNotice
from tests import factories
from tests.editions.delivered import body_text, calendar_of, outbox, send_due

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WORKSHOP = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # Thursday 3 December, 14:00 in Paris


def _announce(sessions: sessionmaker[Session], settings: Settings) -> int:
    """The workshop sent in an event edition to Léa and Emma; Karim subscribed afterwards."""
    with sessions() as session, session.begin():
        event = factories.event(
            session,
            WORKSHOP,
            WORKSHOP + timedelta(hours=2, minutes=30),
            title="Atelier du jeudi",
            first_seen_at=NOW - timedelta(days=1),
        )
        factories.subscriber(session, email="lea@example.org", topics={"events": "weekly"})
        factories.subscriber(
            session, email="emma@example.org", locale="en", topics={"events": "weekly"}
        )
        announcement = factories.edition(
            session,
            kind="event",
            template="event",
            subject="",
            audience={"topics": ["events"], "phase": "announcement"},
            items=[event],
            status="scheduled",
            send_at=NOW,
        )
        event_id, announcement_id = event.id, announcement.id
    send_due(sessions, settings, NOW)
    with sessions() as session, session.begin():
        assert session.get(Edition, announcement_id).status == "sent"  # type: ignore[union-attr]
        factories.subscriber(session, email="karim@example.org", topics={"events": "weekly"})
    for path in settings.mail_outbox_dir.glob("*.eml"):
        path.unlink()
    return event_id


def _change(session: Session, item_id: int, at: datetime, **values: object) -> None:
    """What a poll does when the source moves or cancels the event."""
    item = session.get(ContentItem, item_id)
    assert item is not None
    before = schedule_of(item)
    for name, value in values.items():
        setattr(item, name, value)
    kind = "cancelled" if values.get("event_status") == "cancelled" else "changed"
    record_change(session, item, kind, before, at)
    session.flush()


def test_a_new_time_sends_one_notice_with_the_next_sequence_to_those_who_had_it(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    event_id = _announce(sessions, settings)
    later = NOW + timedelta(days=1)
    with sessions() as session, session.begin():
        _change(
            session,
            event_id,
            later,
            event_start=WORKSHOP + timedelta(hours=1),
            event_end=WORKSHOP + timedelta(hours=3, minutes=30),
        )
        report = notices.create_notices(session, settings, now=later)
        assert len(report.created) == 1
        # Ticked again: the change was decided, nothing more.
        assert notices.create_notices(session, settings, now=later).created == []

    send_due(sessions, settings, later)

    received = outbox(settings)
    assert sorted(received) == ["emma@example.org", "lea@example.org"]  # not Karim
    (french,) = received["lea@example.org"]
    assert french["Subject"] == "Changement\u00a0: Atelier du jeudi"
    text = body_text(french)
    assert "jeudi 3 décembre 2026, 15\u00a0h\u00a000 – 17\u00a0h\u00a030" in text
    assert "Auparavant\u00a0: jeudi 3 décembre 2026, 14\u00a0h\u00a000 – 16\u00a0h\u00a030" in text
    method, calendar = calendar_of(french)
    (vevent,) = calendar.walk("VEVENT")
    assert (method, vevent["SEQUENCE"]) == ("PUBLISH", 1)
    assert vevent.decoded("DTSTART") == WORKSHOP + timedelta(hours=1)
    (english,) = received["emma@example.org"]
    assert english["Subject"] == "Change: Atelier du jeudi"


def test_a_cancellation_sends_one_cancel_and_stops_the_reminders(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    event_id = _announce(sessions, settings)
    seven_days_before = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    with sessions() as session, session.begin():
        (waiting,) = reminders.create_due_reminders(
            session, settings, now=seven_days_before
        ).created
        _change(
            session, event_id, seven_days_before, event_status="cancelled", status="unpublished"
        )
        report = notices.create_notices(session, settings, now=seven_days_before)
        assert report.reminders_stopped == [waiting]
        assert session.get(Edition, waiting).status == "cancelled"  # type: ignore[union-attr]

    send_due(sessions, settings, seven_days_before)

    received = outbox(settings)
    assert sorted(received) == ["emma@example.org", "lea@example.org"]
    (french,) = received["lea@example.org"]
    assert french["Subject"] == "Annulé\u00a0: Atelier du jeudi"
    assert "Cet évènement est annulé." in body_text(french)
    method, calendar = calendar_of(french)
    (vevent,) = calendar.walk("VEVENT")
    assert (method, calendar["METHOD"]) == ("CANCEL", "CANCEL")
    assert (vevent["STATUS"], vevent["SEQUENCE"]) == ("CANCELLED", 1)
    # Nothing to add to a calendar any more: no calendar links in the email.
    assert "Ajouter à mon agenda" not in body_text(french)
    with sessions() as session:
        assert reminders.plan(session, settings, now=seven_days_before) == []


def test_an_event_never_sent_or_already_over_gets_no_notice(
    db_session: Session, settings: Settings
) -> None:
    quiet = factories.event(db_session, WORKSHOP)
    over = factories.event(db_session, NOW - timedelta(days=2), NOW - timedelta(days=2, hours=-2))
    factories.edition(
        db_session, kind="alert", items=[over], status="sent", audience={"topics": ["events"]}
    )
    _change(db_session, quiet.id, NOW, location="Péniche Antipode, Paris")
    _change(db_session, over.id, NOW, location="Péniche Antipode, Paris")

    report = notices.create_notices(db_session, settings, now=NOW)

    assert report.created == []
    outcomes = dict(db_session.execute(select(EventNotice.item_id, EventNotice.outcome)).all())
    assert outcomes == {quiet.id: "nobody", over.id: "past"}


def test_changes_waiting_together_make_one_notice_about_what_readers_knew(
    db_session: Session, settings: Settings
) -> None:
    event = factories.event(db_session, WORKSHOP, WORKSHOP + timedelta(hours=2))
    factories.edition(
        db_session, kind="alert", items=[event], status="sent", audience={"topics": ["events"]}
    )
    _change(db_session, event.id, NOW, event_start=WORKSHOP + timedelta(hours=1))
    _change(db_session, event.id, NOW, event_start=WORKSHOP + timedelta(hours=2))

    (edition_id,) = notices.create_notices(db_session, settings, now=NOW).created

    edition = db_session.get(Edition, edition_id)
    assert edition is not None
    assert edition.audience["before"]["event_start"] == WORKSHOP.isoformat()
    assert edition.audience["sequence"] == 2
    outcomes = sorted(db_session.scalars(select(EventNotice.outcome)))
    assert outcomes == ["sent", "superseded"]
    assert db_session.scalar(select(func.count(Edition.id)).where(Edition.kind == "event")) == 1
