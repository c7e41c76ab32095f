"""Alerts: a burst of new items makes one email to the "immediately" readers, once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import EditionsSettings, Settings
from dispatch.content.models import PublicationEvent
from dispatch.content.publications import pending_publications
from dispatch.db import utcnow
from dispatch.editions import alerts
from dispatch.editions.models import Edition, EditionItem
from tests import factories
from tests.editions.delivered import body_text, outbox, publish, send_due


def _alerts(session: Session) -> list[Edition]:
    return list(
        session.scalars(select(Edition).where(Edition.kind == "alert").order_by(Edition.id))
    )


def _item_ids(session: Session, edition: Edition) -> list[int]:
    return list(
        session.scalars(
            select(EditionItem.item_id)
            .where(EditionItem.edition_id == edition.id)
            .order_by(EditionItem.position)
        )
    )


def _pending(session: Session) -> int:
    return len(pending_publications(session, consumer="alerts", limit=10_000))


def _reader(session: Session, **topics: str) -> None:
    factories.subscriber(session, topics=topics or {"blog": "immediately"})


def test_a_burst_waits_for_quiet_then_becomes_one_alert(
    db_session: Session, settings: Settings
) -> None:
    _reader(db_session)
    start = utcnow() - timedelta(hours=1)
    items = [factories.item(db_session, title=f"Billet {n}") for n in range(3)]
    for minutes, item in zip((0, 2, 4), items, strict=True):
        publish(db_session, item.id, start + timedelta(minutes=minutes))

    still_busy = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=8))
    assert still_busy.created == [] and still_busy.waiting == 3
    assert _alerts(db_session) == []

    report = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=9))
    (alert,) = _alerts(db_session)
    assert report.created == [alert.id]
    assert _item_ids(db_session, alert) == [item.id for item in items]
    assert alert.status == "scheduled"
    assert alert.send_at == start + timedelta(minutes=9)
    assert alert.audience == {"topics": ["blog"], "frequency": "immediately"}
    assert _pending(db_session) == 0

    again = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=30))
    assert again.created == [] and len(_alerts(db_session)) == 1


def test_a_long_trickle_is_cut_into_ten_minute_bursts(
    db_session: Session, settings: Settings
) -> None:
    _reader(db_session)
    start = utcnow() - timedelta(hours=1)
    items = [factories.item(db_session) for _ in range(4)]
    for minutes, item in zip((0, 4, 8, 12), items, strict=True):
        publish(db_session, item.id, start + timedelta(minutes=minutes))

    first = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=14))
    assert len(first.created) == 1 and first.waiting == 1
    alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=17))
    one, two = _alerts(db_session)
    assert _item_ids(db_session, one) == [items[0].id, items[1].id, items[2].id]
    assert _item_ids(db_session, two) == [items[3].id]


def test_a_burst_is_one_alert_and_each_reader_gets_one_email_of_their_own_topics(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    start = utcnow() - timedelta(hours=1)
    with sessions() as session, session.begin():
        factories.subscriber(session, email="blog@example.org", topics={"blog": "immediately"})
        factories.subscriber(session, email="agenda@example.org", topics={"events": "immediately"})
        factories.subscriber(
            session,
            email="tout@example.org",
            topics={"blog": "immediately", "events": "immediately"},
        )
        factories.topic(session, "onaime")
        post = factories.item(session, title="Billet sur les communs", topics=["blog"])
        event = factories.item(
            session,
            kind="event",
            title="Atelier à Nantes",
            topics=["events"],
            event_start=utcnow() + timedelta(days=3),
        )
        nobody = factories.item(session, kind="pick", tag="onaime", topics=["onaime"])
        for item in (post, event, nobody):
            publish(session, item.id, start)
    now = start + timedelta(minutes=6)
    with sessions() as session, session.begin():
        alerts.create_alerts(session, settings, now=now)
        (alert,) = _alerts(session)
        assert alert.audience == {"topics": ["blog", "events"], "frequency": "immediately"}
        assert _item_ids(session, alert) == [post.id, event.id]  # the pick nobody follows: out
        assert _pending(session) == 0

    send_due(sessions, settings, now)

    received = outbox(settings)
    assert sorted(received) == ["agenda@example.org", "blog@example.org", "tout@example.org"]
    assert all(len(messages) == 1 for messages in received.values())
    (blog,) = received["blog@example.org"]
    assert blog["Subject"] == "Billet sur les communs"
    assert "Atelier à Nantes" not in body_text(blog)
    (agenda,) = received["agenda@example.org"]
    assert agenda["Subject"] == "Atelier à Nantes"
    assert "Billet sur les communs" not in body_text(agenda)
    (both,) = received["tout@example.org"]
    assert "Billet sur les communs" in body_text(both) and "Atelier à Nantes" in body_text(both)


def test_the_grouping_window_and_quiet_period_are_settings(
    db_session: Session, settings: Settings
) -> None:
    quick = settings.model_copy(
        update={"editions": EditionsSettings(alert_grouping_minutes=2, alert_quiet_minutes=1)}
    )
    _reader(db_session)
    start = utcnow() - timedelta(hours=1)
    first, second = factories.item(db_session), factories.item(db_session)
    publish(db_session, first.id, start)
    publish(db_session, second.id, start + timedelta(minutes=3))

    report = alerts.create_alerts(db_session, quick, now=start + timedelta(minutes=3, seconds=30))
    assert len(report.created) == 1 and report.waiting == 1  # 3 min apart: two bursts
    alerts.create_alerts(db_session, quick, now=start + timedelta(minutes=4))
    one, two = _alerts(db_session)
    assert _item_ids(db_session, one) == [first.id]
    assert _item_ids(db_session, two) == [second.id]


def test_silent_and_unpublished_items_are_consumed_without_an_alert(
    db_session: Session, settings: Settings
) -> None:
    _reader(db_session)
    start = utcnow() - timedelta(hours=1)
    old = factories.item(db_session)
    withdrawn = factories.item(db_session)
    publish(db_session, old.id, start, silent=True)
    publish(db_session, withdrawn.id, start)
    withdrawn.status = "unpublished"
    db_session.flush()

    report = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=1))

    assert report.created == [] and report.consumed == 1  # silent events come consumed
    assert _alerts(db_session) == [] and _pending(db_session) == 0


def test_two_ticks_at_once_never_put_an_event_in_two_alerts(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utcnow() - timedelta(hours=1)
    with sessions() as session, session.begin():
        _reader(session)
        for _ in range(3):
            publish(session, factories.item(session).id, start)
        postgres = session.get_bind().dialect.name == "postgresql"

    if postgres:
        # Both ticks read the same pending events before either writes: the worst case.
        both_read = threading.Barrier(2, timeout=20)
        original = alerts.pending_publications

        def read_then_wait(*args: Any, **kwargs: Any) -> list[PublicationEvent]:
            found = original(*args, **kwargs)
            both_read.wait()
            return found

        monkeypatch.setattr(alerts, "pending_publications", read_then_wait)
    reports: list[alerts.AlertReport] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            with sessions() as session, session.begin():
                reports.append(
                    alerts.create_alerts(session, settings, now=start + timedelta(minutes=6))
                )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with sessions() as session:
        (alert,) = _alerts(session)
        assert len(_item_ids(session, alert)) == 3
        assert _pending(session) == 0
    assert sorted(len(r.created) for r in reports) == [0, 1]


def test_the_alert_reaches_immediate_readers_only(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    start = utcnow() - timedelta(minutes=30)
    with sessions() as session, session.begin():
        factories.subscriber(session, email="vite@example.org", topics={"blog": "immediately"})
        factories.subscriber(session, email="lundi@example.org", topics={"blog": "weekly"})
        post = factories.item(session, title="Un nouvel article tout chaud")
        publish(session, post.id, start)
    now: datetime = start + timedelta(minutes=6)
    with sessions() as session, session.begin():
        alerts.create_alerts(session, settings, now=now)

    send_due(sessions, settings, now)

    received = outbox(settings)
    assert list(received) == ["vite@example.org"]
    (message,) = received["vite@example.org"]
    assert message["Subject"] == "Un nouvel article tout chaud"
    assert "Un nouvel article tout chaud" in body_text(message)


def test_a_recurring_event_is_announced_once_and_past_events_not_at_all(
    db_session: Session, settings: Settings
) -> None:
    _reader(db_session, events="immediately")
    start = utcnow() - timedelta(hours=1)
    workshops = [
        factories.item(
            db_session,
            kind="event",
            topics=["events"],
            title="Atelier du jeudi : prototyper un service public",
            event_start=utcnow() + timedelta(days=7 * n + 2),
        )
        for n in range(4)
    ]
    past = factories.item(
        db_session,
        kind="event",
        topics=["events"],
        title="Atelier passé",
        event_start=utcnow() - timedelta(days=2),
    )
    for item in (*workshops, past):
        publish(db_session, item.id, start)

    alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=6))

    (alert,) = _alerts(db_session)
    assert _item_ids(db_session, alert) == [workshops[0].id]
    assert _pending(db_session) == 0
