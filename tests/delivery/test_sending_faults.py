"""Mail servers that refuse, defer or drop: retried, failed or suppressed, nothing lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber, Suppression
from dispatch.audience.suppression import email_hash
from dispatch.config import Settings
from dispatch.delivery import controls, sending
from dispatch.delivery.models import Delivery
from dispatch.delivery.throttle import DatabaseThrottle
from dispatch.delivery.transport import for_settings
from tests.delivery import bulk
from tests.smtp_sink import Faults, SmtpSink


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    db_engine, factory = bulk.migrated(bulk.sqlite_url(tmp_path))
    yield factory
    db_engine.dispose()


def _send_until_done(sessions: sessionmaker[Session], edition_id: int, settings: Settings) -> None:
    """Batches until nothing is queued; retries are due at once (no backoff in tests)."""
    for _ in range(50):
        sending.send_next_batch(
            sessions,
            edition_id,
            sending.Mailer(
                settings,
                for_settings(settings),
                DatabaseThrottle(sessions, 100_000, 10_000_000),
                retry_delay=lambda attempts: timedelta(0),
            ),
        )
        counts = bulk.counts(sessions, edition_id)
        if not counts.get("queued") and not counts.get("sending"):
            return
        if bulk.edition_row(sessions, edition_id).status != "sending":
            return
    raise AssertionError(f"the send never ended: {bulk.counts(sessions, edition_id)}")


def _prepare(
    sessions: sessionmaker[Session], tmp_path: Path, sink: SmtpSink, count: int, **mail: Any
) -> tuple[int, list[str], Settings]:
    topic = bulk.unique_topic()
    readers = bulk.populate(sessions, count, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = bulk.make_settings(tmp_path, bulk.sqlite_url(tmp_path), smtp_port=sink.port, **mail)
    with sessions() as session, session.begin():
        controls.send_now(session, edition_id, settings=settings)
    return edition_id, readers, settings


def _rows(sessions: sessionmaker[Session], edition_id: int) -> dict[str, Delivery]:
    with sessions() as session:
        return {
            email: row
            for row, email in session.execute(
                select(Delivery, Subscriber.email)
                .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.edition_id == edition_id)
            ).all()
        }


def test_refusals_are_retried_failed_or_suppressed_and_nothing_is_lost(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic_readers = 12
    with SmtpSink(faults=Faults()) as sink:
        edition_id, readers, settings = _prepare(
            sessions, tmp_path, sink, topic_readers, batch_size=5, reconnect_delay_seconds=0.05
        )
        greylisted, unknown, dropped = readers[2], readers[5], readers[8]
        sink.faults.connect_421 = 1  # the first connection is refused outright
        sink.faults.rcpt_451_once.append(greylisted)
        sink.faults.rcpt_550.append(unknown)
        sink.faults.drop_after_data_rcpt.append(dropped)
        _send_until_done(sessions, edition_id, settings)
        records = sink.records

    accepted = Counter(r["rcpt"] for r in records if r["acknowledged"])
    # Everyone but the unknown address received it, once acknowledged.
    assert accepted == Counter(set(readers) - {unknown})
    rows = _rows(sessions, edition_id)
    assert rows[greylisted].status == "sent" and rows[greylisted].attempts == 2
    assert rows[dropped].status == "sent" and rows[dropped].attempts == 2
    # Its first try met the refused connection: nothing was sent, so no attempt is spent;
    # the worker waited (its back-off) and sent the same message again.
    assert rows[readers[0]].status == "sent" and rows[readers[0]].attempts == 1
    assert rows[unknown].status == "bounced"
    assert "5.1.1" in (rows[unknown].error or "")
    # The unknown address is never mailed again.
    with sessions() as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == unknown))
        assert person is not None and person.status == "bounced"
        digest = email_hash(settings, unknown)
        assert session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    assert bulk.edition_row(sessions, edition_id).status == "sent"


def test_a_permanent_refusal_fails_the_row_and_a_lasting_deferral_gives_up(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with SmtpSink() as sink:
        edition_id, readers, settings = _prepare(sessions, tmp_path, sink, 6, max_attempts=3)
        refused, deferred = readers[1], readers[4]
        sink.faults.data_554.append(refused)
        sink.faults.rcpt_451_always.append(deferred)
        _send_until_done(sessions, edition_id, settings)
        records = sink.records

    assert Counter(r["rcpt"] for r in records) == Counter(set(readers) - {refused, deferred})
    rows = _rows(sessions, edition_id)
    assert rows[refused].status == "failed" and "554" in (rows[refused].error or "")
    assert rows[deferred].status == "failed" and rows[deferred].attempts == 3
    assert "gave up after 3 attempts" in (rows[deferred].error or "")
    assert bulk.edition_row(sessions, edition_id).status == "sent"


def test_consecutive_errors_pause_the_edition_and_say_why(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with SmtpSink() as sink:
        edition_id, readers, settings = _prepare(
            sessions,
            tmp_path,
            sink,
            20,
            pause_after_errors=4,
            batch_size=20,
            reconnect_delay_seconds=0.05,
        )
        sink.faults.connect_421 = -1  # the server refuses every connection
        _send_until_done(sessions, edition_id, settings)
        edition = bulk.edition_row(sessions, edition_id)
        assert edition.status == "paused"
        assert "4 consecutive errors" in (edition.status_reason or "")
        assert "421" in (edition.status_reason or "")
        counts = bulk.counts(sessions, edition_id)
        assert counts == {"queued": 20}  # nothing lost, nothing sent

        # The server is back; staff resume, and every reader gets it.
        sink.faults.connect_421 = 0
        with sessions() as session, session.begin():
            assert controls.resume(session, edition_id) > 0
        _send_until_done(sessions, edition_id, settings)
        records = sink.records
    assert Counter(r["rcpt"] for r in records) == Counter(readers)
    assert bulk.edition_row(sessions, edition_id).status == "sent"
