"""`purge-inactive` asks before it erases: the re-permission email, « Je reste abonné·e »,
and erasure only for those still silent 30 days after the email."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch.audience import mail_requests, records, service
from dispatch.audience.consent import Origin
from dispatch.audience.models import ConsentEvent, Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.db import utcnow
from tests.audience import factories
from tests.audience.factories import WEB

CLI = Origin("staff command line: purge-inactive --years 3")
YEARS_AGO = timedelta(days=3 * 365 + 100)


def silent(session: Session, settings: Settings, **fields: object) -> Subscriber:
    """An active reader whose last sign of life was over three years ago."""
    reader = factories.active(session, settings, **fields)  # type: ignore[arg-type]
    long_ago = utcnow() - YEARS_AGO
    reader.created_at = reader.confirmed_at = reader.last_engagement_at = long_ago
    session.flush()
    return reader


def actions(session: Session, subscriber_id: int) -> list[str]:
    rows = session.scalars(
        select(ConsentEvent.action)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.id)
    )
    return list(rows)


def purge(session: Session, settings: Settings, **kwargs: object) -> records.PurgePlan:
    return records.purge_inactive(session, settings, years=3, origin=CLI, **kwargs)  # type: ignore[arg-type]


def test_the_silent_are_asked_first_and_a_dry_run_changes_nothing(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    quiet = silent(db_session, settings)
    recent = factories.active(db_session, settings)
    gone = silent(db_session, settings)
    service.unsubscribe(db_session, settings, gone, WEB)
    gone.last_engagement_at = gone.unsubscribed_at = utcnow() - YEARS_AGO
    db_session.flush()

    dry = purge(db_session, settings, dry_run=True)
    assert [s.email for s in dry.ask] == [quiet.email]
    assert [s.email for s in dry.erase] == [gone.email]  # nobody to ask: they left
    assert quiet.repermission_requested_at is None
    assert db_session.get(Subscriber, gone.id) is not None

    plan = purge(db_session, settings)
    assert [s.id for s in plan.ask] == [quiet.id] and len(plan.erase) == 1
    assert quiet.repermission_requested_at is not None
    assert actions(db_session, quiet.id)[-1] == "repermission"
    owed = mail_requests.due(db_session, settings, "repermission", quiet.id)
    assert owed is not None and "/stay/" in owed.url
    assert mail_requests.due(db_session, settings, "repermission", recent.id) is None
    assert db_session.get(Subscriber, recent.id) is not None

    # Asked once: a second run the same day neither asks again nor erases.
    again = purge(db_session, settings)
    assert again.ask == [] and again.erase == [] and [s.id for s in again.waiting] == [quiet.id]


def test_pressing_stay_keeps_the_reader_and_is_recorded(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    reader = silent(db_session, settings)
    asked_at = utcnow() - timedelta(days=40)
    purge(db_session, settings, now=asked_at)
    reader.repermission_sent_at = asked_at

    assert service.stay(db_session, reader, WEB) is True
    assert actions(db_session, reader.id)[-2:] == ["repermission", "stay"]
    plan = purge(db_session, settings)
    assert plan.ask == plan.erase == plan.waiting == []
    assert db_session.get(Subscriber, reader.id) is not None
    assert service.stay(db_session, reader, WEB) is False  # once in the ledger per asking


def test_only_those_silent_30_days_after_the_email_are_erased(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    reader = silent(db_session, settings, email="parti.sans.mot@example.org")
    unsent = silent(db_session, settings)
    asked_at = utcnow() - timedelta(days=31)
    purge(db_session, settings, now=asked_at)
    reader.repermission_sent_at = asked_at + timedelta(minutes=1)
    db_session.flush()

    early = purge(db_session, settings, now=asked_at + timedelta(days=29))
    assert early.erase == [] and {s.id for s in early.waiting} == {reader.id, unsent.id}

    plan = purge(db_session, settings)
    # The email that never left (a relay down for a month) starts nobody's 30 days.
    assert [s.id for s in plan.erase] == [reader.id]
    assert [s.id for s in plan.waiting] == [unsent.id]
    assert db_session.scalar(select(Subscriber.id).where(Subscriber.id == reader.id)) is None
    assert is_suppressed(db_session, settings, "parti.sans.mot@example.org")
    for table in ("subscribers", "consent_events", "suppressions"):
        rows = db_session.execute(text(f"SELECT * FROM {table}")).all()
        assert "parti.sans.mot" not in repr(rows)


def test_a_sign_of_life_after_an_old_asking_means_asking_again(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    reader = silent(db_session, settings)
    # Asked five years ago, then they changed their preferences; silent again since.
    reader.repermission_requested_at = utcnow() - timedelta(days=5 * 365)
    reader.repermission_sent_at = reader.repermission_requested_at
    db_session.flush()
    plan = purge(db_session, settings)
    assert [s.id for s in plan.ask] == [reader.id] and plan.erase == []
