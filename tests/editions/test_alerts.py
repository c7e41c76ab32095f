"""Alerts: a burst of new items makes one email to the "immediately" readers, once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
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


def test_items_of_other_topics_go_to_their_own_readers(
    db_session: Session, settings: Settings
) -> None:
    _reader(db_session, blog="immediately")
    _reader(db_session, events="immediately")
    factories.topic(db_session, "onaime")
    start = utcnow() - timedelta(hours=1)
    post = factories.item(db_session, topics=["blog"])
    event = factories.item(
        db_session, kind="event", topics=["events"], event_start=utcnow() + timedelta(days=3)
    )
    nobody = factories.item(db_session, kind="pick", tag="onaime", topics=["onaime"])
    for item in (post, event, nobody):
        publish(db_session, item.id, start)

    alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=6))

    by_topics = {tuple(a.audience["topics"]): _item_ids(db_session, a) for a in _alerts(db_session)}
    assert by_topics == {("blog",): [post.id], ("events",): [event.id]}
    assert _pending(db_session) == 0  # the pick nobody follows immediately is consumed too


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
