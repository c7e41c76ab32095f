"""Digests: once per week or month, each reader's own topics, nobody gets an empty one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.editions import digests
from dispatch.editions.models import Edition, EditionItem
from tests import factories
from tests.editions.delivered import body_text, outbox, send_due

# Monday 23 November 2026, 08:00 in Paris (CET, UTC+1) is 07:00 UTC.
MONDAY_8AM = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "period", "due", "key"),
    [
        (MONDAY_8AM + timedelta(minutes=1), "weekly", MONDAY_8AM, "2026-W48"),
        (MONDAY_8AM - timedelta(minutes=1), "weekly", MONDAY_8AM - timedelta(days=7), "2026-W47"),
        # Summer time: 08:00 in Paris is 06:00 UTC.
        (
            datetime(2026, 7, 1, 6, 30, tzinfo=UTC),
            "monthly",
            datetime(2026, 7, 1, 6, 0, tzinfo=UTC),
            "2026-07",
        ),
        (
            datetime(2026, 1, 1, 6, 59, tzinfo=UTC),
            "monthly",
            datetime(2025, 12, 1, 7, 0, tzinfo=UTC),
            "2025-12",
        ),
    ],
)
def test_periods_fall_on_monday_and_the_first_at_eight_in_paris(
    now: datetime, period: digests.Period, due: datetime, key: str
) -> None:
    found = digests.current_period(period, now)
    assert (found.due_at, found.key) == (due, key)


def _items(session: Session, edition: Edition) -> list[int]:
    return list(
        session.scalars(
            select(EditionItem.item_id)
            .where(EditionItem.edition_id == edition.id)
            .order_by(EditionItem.position)
        )
    )


def _digests(session: Session) -> list[Edition]:
    return list(session.scalars(select(Edition).where(Edition.kind == "digest")))


def test_a_weekly_digest_holds_the_week_and_is_made_once(db_session: Session) -> None:
    now = MONDAY_8AM + timedelta(minutes=1)
    in_week = factories.item(db_session, published_at=MONDAY_8AM - timedelta(days=2))
    factories.item(db_session, published_at=MONDAY_8AM - timedelta(days=8))  # last week's
    factories.item(db_session, published_at=MONDAY_8AM + timedelta(seconds=30))  # next week's

    edition = digests.create_digest(db_session, "weekly", now=now)

    assert edition is not None
    assert _items(db_session, edition) == [in_week.id]
    assert edition.status == "scheduled" and edition.send_at == now
    assert edition.audience["frequency"] == "weekly"
    assert edition.audience["period"] == "2026-W48"
    assert digests.create_digest(db_session, "weekly", now=now + timedelta(minutes=5)) is None
    assert digests.create_due_digests(db_session, now=now + timedelta(hours=3)) == []
    assert len(_digests(db_session)) == 1


def test_the_next_digest_starts_where_the_previous_one_ended(db_session: Session) -> None:
    first = digests.create_digest(db_session, "weekly", now=MONDAY_8AM)
    assert first is None  # nothing published: no digest at all
    factories.item(db_session, published_at=MONDAY_8AM - timedelta(days=1))
    made = digests.create_digest(db_session, "weekly", now=MONDAY_8AM + timedelta(hours=1))
    assert made is not None
    later = factories.item(db_session, published_at=MONDAY_8AM + timedelta(days=3))
    following = digests.create_digest(db_session, "weekly", now=MONDAY_8AM + timedelta(days=7))
    assert following is not None
    assert _items(db_session, following) == [later.id]
    assert following.audience["since"] == MONDAY_8AM.isoformat()


def test_a_digest_long_overdue_is_not_sent_late(db_session: Session) -> None:
    factories.item(db_session, published_at=MONDAY_8AM - timedelta(days=1))
    assert digests.create_digest(db_session, "weekly", now=MONDAY_8AM + timedelta(days=2)) is None


def test_two_beat_ticks_at_once_make_one_digest(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        factories.item(session, published_at=MONDAY_8AM - timedelta(days=1))
    made: list[int] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            with sessions() as session, session.begin():
                made.extend(digests.create_due_digests(session, now=MONDAY_8AM))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=tick) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(made) == 1
    with sessions() as session:
        assert len(_digests(session)) == 1


def test_each_reader_gets_their_own_sections_and_nobody_an_empty_digest(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    now = datetime.now(UTC)
    due = digests.current_period("weekly", now).due_at
    with sessions() as session, session.begin():
        factories.subscriber(session, email="blog@example.org", topics={"blog": "weekly"})
        factories.subscriber(session, email="agenda@example.org", topics={"events": "weekly"})
        factories.subscriber(
            session, email="tout@example.org", topics={"blog": "weekly", "events": "weekly"}
        )
        factories.subscriber(session, email="picks@example.org", topics={"onaime": "weekly"})
        factories.subscriber(session, email="mois@example.org", topics={"blog": "monthly"})
        # Blog weekly, events monthly: the weekly digest shows the blog section only.
        factories.subscriber(
            session, email="mixte@example.org", topics={"blog": "weekly", "events": "monthly"}
        )
        factories.item(session, title="Article de la semaine", published_at=due - timedelta(days=1))
        factories.item(
            session,
            kind="event",
            title="Atelier à venir",
            topics=["events"],
            published_at=due - timedelta(days=2),
            event_start=now + timedelta(days=5),
        )
        edition = digests.create_digest(session, "weekly", now=due)
        assert edition is not None
        edition.send_at = now

    send_due(sessions, settings, now)

    received = outbox(settings)
    assert sorted(received) == [
        "agenda@example.org",
        "blog@example.org",
        "mixte@example.org",
        "tout@example.org",
    ]
    texts = {address: body_text(messages[0]) for address, messages in received.items()}
    assert "Article de la semaine" in texts["blog@example.org"]
    assert "Atelier à venir" not in texts["blog@example.org"]
    assert "Atelier à venir" in texts["agenda@example.org"]
    assert "Article de la semaine" not in texts["agenda@example.org"]
    assert "Article de la semaine" in texts["tout@example.org"]
    assert "Atelier à venir" in texts["tout@example.org"]
    assert "Article de la semaine" in texts["mixte@example.org"]
    assert "Atelier à venir" not in texts["mixte@example.org"]
    assert all(len(messages) == 1 for messages in received.values())
