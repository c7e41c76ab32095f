"""The sending engine in this process against a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber
from dispatch.audience.suppression import suppress
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery import claims, controls, leases, ledger, sending, snapshot, sweeper, verp
from dispatch.delivery.models import Delivery
from dispatch.delivery.throttle import DatabaseThrottle
from dispatch.delivery.transport import for_settings
from dispatch.editions.models import Edition
from tests.delivery import bulk
from tests.smtp_sink import SmtpSink


@pytest.fixture(params=["sqlite", "postgres"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, sessionmaker[Session]]]:
    if request.param == "sqlite":
        url = bulk.sqlite_url(tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
    db_engine, sessions = bulk.migrated(url)
    yield url, sessions
    db_engine.dispose()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def _settings(tmp_path: Path, url: str, sink: SmtpSink, **mail: Any) -> Settings:
    return bulk.make_settings(tmp_path, url, smtp_port=sink.port, **mail)


def _send_all(
    sessions: sessionmaker[Session], edition_id: int, settings: Settings, *, limit: int = 200
) -> list[sending.BatchReport]:
    """Run batches in this process until the edition has no due row left."""
    reports = []
    for _ in range(limit):
        report = sending.send_next_batch(
            sessions,
            edition_id,
            sending.Mailer(
                settings,
                for_settings(settings),
                DatabaseThrottle(
                    sessions, settings.mail.rate_per_second, settings.mail.rate_per_hour
                ),
                retry_delay=lambda attempts: timedelta(0),
            ),
        )
        reports.append(report)
        if not report.more:
            break
    return reports


def _start(sessions: sessionmaker[Session], edition_id: int, settings: Settings) -> int:
    with sessions() as session, session.begin():
        return controls.send_now(session, edition_id, settings=settings).recipients


def test_audience_is_the_matching_active_subscribers_once_each(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, sink: SmtpSink
) -> None:
    url, sessions = database
    topic = bulk.unique_topic()
    readers = bulk.populate(sessions, 30, topic=topic)
    bulk.populate(sessions, 3, topic=topic, status="unsubscribed", prefix=f"{topic}-gone")
    bulk.populate(sessions, 3, topic=topic, status="pending", prefix=f"{topic}-pending")
    bulk.populate(sessions, 3, topic=bulk.unique_topic(), prefix=f"{topic}-other")
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, url, sink)

    assert _start(sessions, edition_id, settings) == 30
    # Subscribers who arrive once the send has started do not join it.
    bulk.populate(sessions, 2, topic=topic, prefix=f"{topic}-late")
    with sessions() as session, session.begin():
        edition = session.get(Edition, edition_id)
        assert edition is not None
        assert snapshot.build_audience(session, edition) == 30  # again: nothing new

    _send_all(sessions, edition_id, settings)

    received = Counter(record["rcpt"] for record in sink.records)
    assert received == Counter(readers)
    assert bulk.counts(sessions, edition_id) == {"sent": 30}
    assert bulk.edition_row(sessions, edition_id).status == "sent"


def test_each_row_records_the_message_id_the_server_received(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, sink: SmtpSink
) -> None:
    url, sessions = database
    topic = bulk.unique_topic()
    bulk.populate(sessions, 5, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic, subject="La lettre de novembre")
    settings = _settings(tmp_path, url, sink)
    _start(sessions, edition_id, settings)
    _send_all(sessions, edition_id, settings)

    with sessions() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.message_id, Delivery.smtp_reply, Subscriber.email)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.edition_id == edition_id)
        ).all()
    by_rcpt = {record["rcpt"]: record for record in sink.records}
    for row in rows:
        record = by_rcpt[row.email]
        assert record["message_id"] == row.message_id
        assert "250" in (row.smtp_reply or "")
        # The envelope sender is this delivery's signed return path, for bounces.
        assert verp.decode(record["mail_from"], "test-verp-secret") == row.id
        message = email.message_from_bytes(record["content"])
        assert message["Subject"] == "La lettre de novembre"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # RFC 2369: the one-click URL, then a mailto that reaches the bounce mailbox.
        one_click, mailto = (
            part.strip().strip("<>") for part in message["List-Unsubscribe"].split(",")
        )
        assert one_click.startswith("http") and "/unsubscribe/" in one_click
        assert mailto.startswith("mailto:bounces+u")
        mailto_address = mailto.removeprefix("mailto:").split("?")[0]
        with sessions() as session:
            reader = session.scalar(select(Subscriber.id).where(Subscriber.email == row.email))
        assert verp.decode_unsubscribe(mailto_address, "test-verp-secret") == reader
        assert message[verp.DELIVERY_HEADER] == verp.make_token(row.id, "test-verp-secret")


def test_a_reader_who_leaves_before_their_batch_is_claimed_gets_nothing(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, sink: SmtpSink
) -> None:
    url, sessions = database
    topic = bulk.unique_topic()
    readers = bulk.populate(sessions, 20, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, url, sink, batch_size=5)
    _start(sessions, edition_id, settings)

    first = sending.send_next_batch(
        sessions,
        edition_id,
        sending.Mailer(
            settings,
            for_settings(settings),
            DatabaseThrottle(sessions, 1000, 100_000),
        ),
    )
    assert first.sent == 5
    # Mid-send: one reader unsubscribes, another address lands on the suppression list.
    leaving, suppressed = readers[12], readers[17]
    with sessions() as session, session.begin():
        session.execute(
            update(Subscriber).where(Subscriber.email == leaving).values(status="unsubscribed")
        )
        suppress(session, settings, suppressed, "complained")
    _send_all(sessions, edition_id, settings)

    received = Counter(record["rcpt"] for record in sink.records)
    assert leaving not in received and suppressed not in received
    assert received == Counter(set(readers) - {leaving, suppressed})
    assert bulk.counts(sessions, edition_id) == {"sent": 18, "skipped": 2}
    assert bulk.edition_row(sessions, edition_id).status == "sent"


def test_two_claimers_never_hold_the_same_row(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, sink: SmtpSink
) -> None:
    url, sessions = database
    topic = bulk.unique_topic()
    bulk.populate(sessions, 40, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, url, sink, batch_size=15)
    _start(sessions, edition_id, settings)

    held: list[int] = []
    for worker in ("host/ns/1", "host/ns/2", "host/ns/3"):
        with sessions() as session, session.begin():
            rows, _ = claims.claim_batch(
                session, edition_id, settings=settings, worker=worker, limit=15
            )
        held += [row.delivery_id for row in rows]
    assert len(held) == len(set(held)) == 40
    with sessions() as session, session.begin():
        controls.cancel(session, edition_id)


def test_an_expired_lease_goes_back_to_the_queue_and_the_edition_waits_for_it(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, sink: SmtpSink
) -> None:
    url, sessions = database
    topic = bulk.unique_topic()
    readers = bulk.populate(sessions, 12, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, url, sink, batch_size=5)
    _start(sessions, edition_id, settings)
    # A worker claimed five rows, then vanished without sending them.
    with sessions() as session, session.begin():
        claims.claim_batch(session, edition_id, settings=settings, worker="elsewhere/x/1", limit=5)
    _send_all(sessions, edition_id, settings)
    assert bulk.counts(sessions, edition_id) == {"sent": 7, "sending": 5}
    assert bulk.edition_row(sessions, edition_id).status == "sending"

    with sessions() as session, session.begin():
        result = sweeper.sweep(session, settings=settings, now=utcnow() + timedelta(seconds=31))
    assert result.released >= 5
    assert bulk.counts(sessions, edition_id) == {"sent": 7, "queued": 5}
    assert result.batches.get(edition_id)
    _send_all(sessions, edition_id, settings)

    assert Counter(record["rcpt"] for record in sink.records) == Counter(readers)
    assert bulk.edition_row(sessions, edition_id).status == "sent"


def test_a_long_batch_renews_its_lease_so_the_sweeper_leaves_it_alone(
    database: tuple[str, sessionmaker[Session]], tmp_path: Path, sink: SmtpSink
) -> None:
    url, sessions = database
    topic = bulk.unique_topic()
    bulk.populate(sessions, 10, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, url, sink, batch_size=5)
    _start(sessions, edition_id, settings)
    with sessions() as session, session.begin():
        mine, _ = claims.claim_batch(
            session, edition_id, settings=settings, worker="elsewhere/x/1", limit=5
        )
        theirs, _ = claims.claim_batch(
            session, edition_id, settings=settings, worker="elsewhere/x/2", limit=5
        )
    # Both leases are nearly over; only the first worker is still busy and renews.
    soon = utcnow() + timedelta(seconds=5)
    with sessions() as session, session.begin():
        session.execute(
            update(Delivery).where(Delivery.edition_id == edition_id).values(lease_until=soon)
        )
    with sessions.kw["bind"].connect() as conn:
        marks = ledger.OutcomeWriter(conn, edition_id, "elsewhere/x/1")
        assert marks.renew(utcnow() + timedelta(minutes=10)) == 5
    later = utcnow() + timedelta(minutes=1)
    with sessions() as session, session.begin():
        released = leases.release_expired(session, now=later)
    assert released == 5
    with sessions() as session:
        still_mine = session.scalars(
            select(Delivery.id).where(
                Delivery.edition_id == edition_id, Delivery.status == "sending"
            )
        ).all()
    assert sorted(still_mine) == sorted(row.delivery_id for row in mine)
    assert not {row.delivery_id for row in theirs} & set(still_mine)
