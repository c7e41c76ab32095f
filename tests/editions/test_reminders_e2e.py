"""Event reminders end to end: real worker processes, a real SMTP server, a kill -9.

The clock that decides when a reminder falls due is frozen (the reminder and delivery ticks
run here, as beat would, at the given time); the worker sends with its own clock. An event
nine days ahead gets its 7-day and 1-day reminders at its Paris time, once per reader,
even when the worker is killed in the middle of a send; readers who turned reminders off
get none.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.delivery import sweeper
from dispatch.editions import reminders
from dispatch.editions.models import Edition, EventReminder
from tests import factories, processes
from tests.delivery import bulk
from tests.smtp_sink import SinkProcess
from workers.app import create_celery

pytestmark = pytest.mark.slow
CONCURRENCY = 2
READERS = 300
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WORKSHOP = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # Thursday 3 December, 14:00 in Paris
SEVEN_DAYS_BEFORE = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # Thursday 26, 14:00 Paris
DAY_BEFORE = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # Wednesday 2, 14:00 Paris
_EDITION = re.compile(r"\.e(\d+)@")


class Run:
    """A workshop, its readers, a sink process and a worker process."""

    def __init__(self, tmp_path: Path, url: str, broker_url: str) -> None:
        self.tmp_path = tmp_path
        _engine, self.sessions = bulk.migrated(url)
        self.sink = SinkProcess(record=tmp_path / "received.jsonl").start()
        self.settings: Settings = bulk.make_settings(
            tmp_path, url, broker_url=broker_url, smtp_port=self.sink.port, batch_size=20
        )
        mail = {
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(self.sink.port),
            "smtp_security": "none",
            "rate_per_second": "100000",
            "rate_per_hour": "10000000",
            "batch_size": "20",
            "lease_seconds": "30",
        }
        self.env = processes.dispatch_env(
            data_dir=tmp_path / "var",
            database_url=url,
            broker_url=broker_url,
            DISPATCH_SECURITY__SECRET_KEY="test-verp-secret",
            DISPATCH_APP__LOG_LEVEL="WARNING",
            **{f"DISPATCH_MAIL__{k.upper()}": v for k, v in mail.items()},
        )
        topic = bulk.unique_topic()
        self.readers = bulk.populate(self.sessions, READERS, topic=topic)
        self.opted_out = bulk.populate(self.sessions, 10, topic=topic, prefix=f"{topic}-non")
        with self.sessions() as session, session.begin():
            session.execute(
                update(Subscriber)
                .where(Subscriber.email.in_(self.opted_out))
                .values(event_reminders=False)
            )
            self.event_id = factories.event(
                session,
                WORKSHOP,
                WORKSHOP + timedelta(hours=2, minutes=30),
                topics=[topic],
                first_seen_at=NOW,
            ).id
        self.worker: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start_worker(self) -> None:
        log = self.tmp_path / f"worker-{self.restarts}.log"
        self.restarts += 1
        self.worker = processes.start_worker(self.env, log, concurrency=CONCURRENCY)

    def remind(self, at: datetime) -> list[int]:
        """The events tick at `at`; returns this workshop's new reminder editions."""
        with self.sessions() as session, session.begin():
            created = reminders.create_due_reminders(session, self.settings, now=at).created
            return [
                edition_id
                for edition_id in created
                if (session.get(Edition, edition_id).audience or {}).get("event") == self.event_id  # type: ignore[union-attr]
            ]

    def start(self, edition_id: int, at: datetime) -> None:
        """The delivery tick at `at` starts the reminder; its batches go to the worker."""
        with self.sessions() as session, session.begin():
            started = sweeper.start_due_editions(session, settings=self.settings, now=at)
        result = started.get(edition_id)
        self.enqueue(edition_id, result.batches if result else 0)
        if result and result.audience_pending:  # the rest of the snapshot, as the tick rings
            create_celery(self.settings).send_task("delivery.build_audience", args=[edition_id])

    def enqueue(self, edition_id: int, count: int) -> None:
        celery = create_celery(self.settings)
        for _ in range(count):
            celery.send_task("delivery.send_batch", args=[edition_id])

    def tick(self, edition_id: int) -> None:
        """The delivery tick with the real clock: dead workers' rows back to the queue."""
        with self.sessions() as session, session.begin():
            result = sweeper.sweep(session, settings=self.settings)
        self.enqueue(edition_id, result.batches.get(edition_id, 0))

    def received(self, edition_id: int) -> Counter[str]:
        return Counter(
            record["rcpt"]
            for record in self.sink.records()
            if (match := _EDITION.search(record["message_id"] or ""))
            and int(match.group(1)) == edition_id
        )

    def status(self, edition_id: int) -> str:
        return bulk.edition_row(self.sessions, edition_id).status

    def wait(self, edition_id: int, *, received: int | None = None) -> None:
        def reached() -> bool:
            self.tick(edition_id)
            if received is not None:
                return sum(self.received(edition_id).values()) >= received
            return self.status(edition_id) == "sent"

        try:
            processes.wait_until(reached, timeout=120, what=f"edition {edition_id}")
        except TimeoutError as error:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted(self.tmp_path.glob("worker-*.log"))
            )
            rows = bulk.counts(self.sessions, edition_id)
            raise AssertionError(f"{error}; rows {rows}\n{logs}") from error

    def stop(self) -> None:
        if self.worker is not None:
            processes.stop(self.worker)
        self.sink.stop()


def _rows_of(run: Run, edition_id: int, emails: set[str]) -> list[tuple[Any, ...]]:
    from dispatch.delivery.models import Delivery

    with run.sessions() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(Subscriber.email, Delivery.status, Delivery.attempts, Delivery.error)
                .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                .where(Delivery.edition_id == edition_id, Subscriber.email.in_(sorted(emails)))
            )
        ][:20]


@pytest.fixture(params=["embedded", "production"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "embedded":
        url, broker = bulk.sqlite_url(tmp_path), ""
    else:
        url = request.getfixturevalue("postgres_url")
        broker = request.getfixturevalue("redis_server").url
    started = Run(tmp_path, url, broker)
    yield started
    started.stop()


def test_an_event_nine_days_ahead_is_reminded_twice_once_each_after_a_kill_9(run: Run) -> None:
    run.start_worker()
    # Nothing before its time, Paris time.
    assert run.remind(NOW) == []
    assert run.remind(SEVEN_DAYS_BEFORE - timedelta(minutes=1)) == []

    (week,) = run.remind(SEVEN_DAYS_BEFORE)
    run.start(week, SEVEN_DAYS_BEFORE)
    run.wait(week, received=READERS // 3)
    assert run.worker is not None
    processes.kill_hard(run.worker)  # mid-send: rows are claimed, some sent, some not
    assert run.status(week) == "sending"
    run.start_worker()
    run.wait(week)

    # Ticked again later the same day: the slot is done.
    assert run.remind(SEVEN_DAYS_BEFORE + timedelta(hours=3)) == []
    (day,) = run.remind(DAY_BEFORE)
    run.start(day, DAY_BEFORE)
    run.wait(day)

    for edition_id, kills in ((week, 1), (day, 0)):
        received = run.received(edition_id)
        missing = set(run.readers) - set(received)
        # nobody lost, nobody who opted out; a loss names the rows of those who missed it
        assert set(received) == set(run.readers), _rows_of(run, edition_id, missing)
        # At most the message in flight on each connection of the killed worker.
        assert sum(n - 1 for n in received.values()) <= kills * CONCURRENCY
        assert bulk.counts(run.sessions, edition_id) == {"sent": READERS}
    with run.sessions() as session:
        per_reader = session.execute(
            select(EventReminder.offset_days, func.count())
            .where(EventReminder.item_id == run.event_id)
            .group_by(EventReminder.offset_days)
        ).all()
    assert dict(per_reader) == {7: READERS, 1: READERS}
