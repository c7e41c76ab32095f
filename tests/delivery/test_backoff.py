"""Reconnecting after failed connections: exponential back-off with jitter, per worker.

Measured against a local SMTP server answering 421 at every connection: the attempts
spread out (each wait at least half of a ceiling that doubles), the edition says why it is
waiting, rows keep their attempts, and the automatic pause still comes.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.delivery import controls, sending
from dispatch.delivery.backoff import Reconnect
from dispatch.delivery.throttle import DatabaseThrottle
from dispatch.delivery.transport import for_settings
from tests.delivery import bulk
from tests.smtp_sink import SmtpSink


def test_each_wait_doubles_up_to_the_maximum_and_is_drawn_in_its_upper_half() -> None:
    backoff = Reconnect(1.0, 8.0)
    ceilings = [1, 2, 4, 8, 8, 8]
    for ceiling in ceilings:
        delay = backoff.failed()
        assert ceiling / 2 <= delay <= ceiling
    assert 0 < backoff.remaining() <= 8
    backoff.succeeded()
    assert backoff.remaining() == 0 and backoff.failures == 0
    # Two workers that failed together do not come back together.
    draws = {Reconnect(1.0, 8.0).failed() for _ in range(20)}
    assert len(draws) > 1


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    db_engine, factory = bulk.migrated(bulk.sqlite_url(tmp_path))
    yield factory
    db_engine.dispose()


def _prepare(
    sessions: sessionmaker[Session], tmp_path: Path, sink: SmtpSink, **mail: object
) -> tuple[int, list[str], Settings]:
    topic = bulk.unique_topic()
    readers = bulk.populate(sessions, 10, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = bulk.make_settings(
        tmp_path, bulk.sqlite_url(tmp_path), smtp_port=sink.port, batch_size=10, **mail
    )
    with sessions() as session, session.begin():
        controls.send_now(session, edition_id, settings=settings)
    return edition_id, readers, settings


def _batch(
    sessions: sessionmaker[Session], edition_id: int, settings: Settings, backoff: Reconnect
) -> sending.BatchReport:
    mailer = sending.Mailer(
        settings,
        for_settings(settings),
        DatabaseThrottle(sessions, 100_000, 10_000_000),
        reconnect=backoff,
    )
    return sending.send_next_batch(sessions, edition_id, mailer)


def test_a_server_refusing_every_connection_is_retried_ever_more_slowly_then_paused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with SmtpSink() as sink:
        sink.faults.connect_421 = -1
        edition_id, _, settings = _prepare(
            sessions,
            tmp_path,
            sink,
            pause_after_errors=6,
            reconnect_delay_seconds=0.2,
            reconnect_delay_max_seconds=1.0,
        )
        backoff = Reconnect(0.2, 1.0)
        started = time.monotonic()
        report = _batch(sessions, edition_id, settings, backoff)
        attempts = [at - started for at in sink.connected_at]

    assert len(attempts) == 6  # one attempt per counted error, then the pause
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for gap, ceiling in zip(gaps, [0.2, 0.4, 0.8, 1.0, 1.0], strict=True):
        assert gap >= ceiling / 2 * 0.95, f"reconnected after {gap:.2f} s, not {ceiling / 2} s"
    # Without the back-off the six attempts took a few milliseconds.
    assert attempts[-1] >= (0.1 + 0.2 + 0.4 + 0.5 + 0.5) * 0.95
    edition = bulk.edition_row(sessions, edition_id)
    assert edition.status == "paused" and report.stopped
    assert "6 consecutive errors" in (edition.status_reason or "")
    assert "421" in (edition.status_reason or "")
    # Nothing was sent and no reader's row spent an attempt on the server's refusals.
    assert bulk.counts(sessions, edition_id) == {"queued": 10}
    assert report.claimed == 10 and report.released == 10


def test_while_waiting_the_edition_says_why_and_goes_on_when_the_server_is_back(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with SmtpSink() as sink:
        sink.faults.connect_421 = -1
        edition_id, readers, settings = _prepare(sessions, tmp_path, sink, pause_after_errors=50)
        backoff = Reconnect(0.5, 4.0)
        result: list[sending.BatchReport] = []
        batch = threading.Thread(
            target=lambda: result.append(_batch(sessions, edition_id, settings, backoff))
        )
        batch.start()
        deadline = time.monotonic() + 10
        while "trying again" not in (bulk.edition_row(sessions, edition_id).status_reason or ""):
            assert time.monotonic() < deadline, "the edition never said why it waits"
            time.sleep(0.05)
        reason = bulk.edition_row(sessions, edition_id).status_reason or ""
        assert "refused the connection" in reason and "421" in reason
        assert bulk.edition_row(sessions, edition_id).status == "sending"

        sink.faults.connect_421 = 0  # the server is back
        batch.join(30)
        received = Counter(r["rcpt"] for r in sink.records)

    assert result and result[0].sent == 10
    assert received == Counter(readers)
    edition = bulk.edition_row(sessions, edition_id)
    assert edition.status == "sent" and edition.status_reason is None
    assert edition.consecutive_errors == 0


def test_staff_pausing_during_the_wait_stops_the_batch_within_a_second(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with SmtpSink() as sink:
        sink.faults.connect_421 = -1
        edition_id, _, settings = _prepare(sessions, tmp_path, sink, pause_after_errors=50)
        backoff = Reconnect(30.0, 60.0)  # a long wait, cut short by staff
        result: list[sending.BatchReport] = []
        batch = threading.Thread(
            target=lambda: result.append(_batch(sessions, edition_id, settings, backoff))
        )
        batch.start()
        while backoff.failures == 0:
            time.sleep(0.02)
        with sessions() as session, session.begin():
            controls.pause(session, edition_id)
        paused_at = time.monotonic()
        batch.join(10)
        stopped_after = time.monotonic() - paused_at

    assert stopped_after < 2.5
    assert result and result[0].stopped == "edition paused"
    assert bulk.counts(sessions, edition_id) == {"queued": 10}
