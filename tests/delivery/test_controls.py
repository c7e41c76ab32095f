"""Staff control of a send: schedule, start when due, pause, resume, cancel, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dispatch.config import AppSettings, Settings, build_settings
from dispatch.db import utcnow
from dispatch.delivery import controls, ledger, sweeper
from dispatch.delivery.models import Delivery
from dispatch.editions import schedule
from dispatch.editions.errors import EditionStateError
from tests import factories


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return build_settings(app=AppSettings(data_dir=tmp_path / "var"))


def _edition_with_readers(session: Session, count: int = 3) -> int:
    topic = f"svc{factories._seq.__next__()}"
    for _ in range(count):
        factories.subscriber(session, topics={topic: "weekly"})
    item = factories.item(session, topics=[topic])
    return factories.edition(session, items=[item], audience={"topics": [topic]}).id


def test_a_time_without_offset_is_paris_time() -> None:
    winter = schedule.parse_send_at("2026-12-01 09:00")
    assert winter.astimezone(UTC) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    summer = schedule.parse_send_at("2026-07-01 09:00")
    assert summer.astimezone(UTC) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    explicit = schedule.parse_send_at("2026-12-01T09:00+00:00")
    assert explicit == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(EditionStateError, match="2026-12-01 09:00"):
        schedule.parse_send_at("mardi prochain")


def test_a_scheduled_edition_starts_when_due_and_not_before(
    db_session: Session, settings: Settings
) -> None:
    edition_id = _edition_with_readers(db_session)
    now = utcnow()
    schedule.schedule_edition(db_session, edition_id, send_at=now + timedelta(hours=1), now=now)

    early = sweeper.sweep(db_session, settings=settings, now=now + timedelta(minutes=59))
    assert edition_id not in early.started
    assert controls.status(db_session, edition_id)["status"] == "scheduled"

    due = sweeper.sweep(db_session, settings=settings, now=now + timedelta(hours=1, seconds=1))
    assert edition_id in due.started and due.batches[edition_id] >= 1
    state = controls.status(db_session, edition_id)
    assert state["status"] == "sending"
    assert state["counts"]["queued"] == 3 and state["recipients"] == 3


def test_scheduling_in_the_past_or_a_sent_edition_is_refused(
    db_session: Session, settings: Settings
) -> None:
    edition_id = _edition_with_readers(db_session)
    with pytest.raises(EditionStateError, match="in the past"):
        schedule.schedule_edition(db_session, edition_id, send_at=utcnow() - timedelta(hours=2))
    controls.send_now(db_session, edition_id, settings=settings)
    with pytest.raises(EditionStateError, match="sending"):
        schedule.schedule_edition(db_session, edition_id, send_at=utcnow() + timedelta(hours=2))


def test_pause_resume_and_cancel(db_session: Session, settings: Settings) -> None:
    edition_id = _edition_with_readers(db_session, 4)
    assert controls.send_now(db_session, edition_id, settings=settings).recipients == 4

    controls.pause(db_session, edition_id)
    state = controls.status(db_session, edition_id)
    assert state["status"] == "paused" and state["status_reason"] == "Paused by staff."
    # A paused edition gets no batch from the tick.
    assert edition_id not in sweeper.sweep(db_session, settings=settings).batches

    assert controls.resume(db_session, edition_id) > 0
    assert controls.status(db_session, edition_id)["status"] == "sending"

    controls.cancel(db_session, edition_id)
    state = controls.status(db_session, edition_id)
    assert state["status"] == "cancelled"
    assert state["counts"]["skipped"] == 4 and state["counts"]["queued"] == 0
    with pytest.raises(EditionStateError, match="only a paused edition"):
        controls.resume(db_session, edition_id)


def test_status_reports_the_rate_and_an_estimated_end(
    db_session: Session, settings: Settings
) -> None:
    edition_id = _edition_with_readers(db_session, 4)
    controls.send_now(db_session, edition_id, settings=settings)
    now = utcnow()
    rows = db_session.query(Delivery).filter(Delivery.edition_id == edition_id).all()
    for row in rows[:2]:
        row.status, row.sent_at = "sent", now - timedelta(seconds=30)
    db_session.flush()

    state = controls.status(db_session, edition_id, now=now)
    assert state["counts"]["sent"] == 2 and state["done"] == 2
    assert state["rate_per_second"] == pytest.approx(2 / 60, abs=0.01)
    end = datetime.fromisoformat(state["estimated_end"])
    assert now + timedelta(seconds=50) < end < now + timedelta(seconds=70)


def test_an_edition_is_sent_only_when_no_row_is_open(
    db_session: Session, settings: Settings
) -> None:
    edition_id = _edition_with_readers(db_session, 2)
    controls.send_now(db_session, edition_id, settings=settings)
    rows = db_session.query(Delivery).filter(Delivery.edition_id == edition_id).all()
    rows[0].status = "sent"
    rows[1].status = "sending"
    db_session.flush()
    assert not ledger.finish_if_done(db_session, edition_id)
    rows[1].status = "failed"
    db_session.flush()
    assert ledger.finish_if_done(db_session, edition_id)
    assert controls.status(db_session, edition_id)["status"] == "sent"
