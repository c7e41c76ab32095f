"""End to end: real worker processes, a real SMTP server process, crashes by kill -9.

PostgreSQL + Redis (production shape) and SQLite + the filesystem broker (embedded default).
Recovery after a crash comes from the delivery tick (the sweeper), run here in the test
process as beat would run it.
"""

from __future__ import annotations

import random
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.delivery import controls, sweeper
from tests import processes
from tests.delivery import bulk
from tests.smtp_sink import SinkProcess
from workers.app import create_celery

pytestmark = pytest.mark.slow
CONCURRENCY = 2


@dataclass
class Send:
    """One edition being sent by worker processes to a sink process."""

    tmp_path: Path
    url: str
    broker_url: str
    sessions: sessionmaker[Session]
    sink: SinkProcess
    settings: Settings
    readers: list[str]
    edition_id: int
    env: dict[str, str]
    worker: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start_worker(self) -> None:
        log = self.tmp_path / f"worker-{self.restarts}.log"
        self.restarts += 1
        self.worker = processes.start_worker(self.env, log, concurrency=CONCURRENCY)

    def enqueue(self, count: int) -> None:
        celery = create_celery(self.settings)
        for _ in range(count):
            celery.send_task("delivery.send_batch", args=[self.edition_id])

    def tick(self) -> None:
        """The delivery tick, for this test's edition only (the database may hold others)."""
        with self.sessions() as session, session.begin():
            result = sweeper.sweep(session, settings=self.settings)
        self.enqueue(result.batches.get(self.edition_id, 0))

    def received(self) -> Counter[str]:
        mine = set(self.readers)
        return Counter(r["rcpt"] for r in self.sink.records() if r["rcpt"] in mine)

    def status(self) -> str:
        return bulk.edition_row(self.sessions, self.edition_id).status

    def wait_sent(self, timeout: float = 120) -> None:
        def done() -> bool:
            self.tick()
            return self.status() == "sent"

        try:
            processes.wait_until(done, timeout=timeout, what="the edition to be sent")
        except TimeoutError as error:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted(self.tmp_path.glob("worker-*.log"))
            )
            rows = bulk.counts(self.sessions, self.edition_id)
            raise AssertionError(f"{error}; rows {rows}\n{logs}") from error

    def stop(self) -> None:
        if self.worker is not None:
            processes.stop(self.worker)


@pytest.fixture
def make_send(tmp_path: Path) -> Iterator[Any]:
    sends: list[Send] = []

    def make(url: str, broker_url: str, recipients: int, *, batch_size: int) -> Send:
        _engine, sessions = bulk.migrated(url)
        sink = SinkProcess(record=tmp_path / "received.jsonl").start()
        mail = {
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(sink.port),
            "smtp_security": "none",
            "rate_per_second": "100000",
            "rate_per_hour": "10000000",
            "batch_size": str(batch_size),
            "lease_seconds": "30",
        }
        env = processes.dispatch_env(
            data_dir=tmp_path / "var",
            database_url=url,
            broker_url=broker_url,
            DISPATCH_SECURITY__SECRET_KEY="test-verp-secret",
            DISPATCH_APP__LOG_LEVEL="WARNING",
            **{f"DISPATCH_MAIL__{k.upper()}": v for k, v in mail.items()},
        )
        settings = bulk.make_settings(
            tmp_path, url, broker_url=broker_url, smtp_port=sink.port, batch_size=batch_size
        )
        topic = bulk.unique_topic()
        readers = bulk.populate(sessions, recipients, topic=topic)
        edition_id = bulk.make_edition(sessions, topic=topic)
        send = Send(tmp_path, url, broker_url, sessions, sink, settings, readers, edition_id, env)
        sends.append(send)
        return send

    yield make
    for send in sends:
        send.stop()
        send.sink.stop()


def _start(send: Send) -> None:
    with send.sessions() as session, session.begin():
        result = controls.send_now(session, send.edition_id, settings=send.settings)
    assert result.recipients == len(send.readers)
    send.enqueue(result.batches)


def _crash_three_times(send: Send) -> int:
    """Kill -9 the worker three times at random moments; returns how many kills landed."""
    total = len(send.readers)
    kills = 0
    for fraction in sorted(random.uniform(0.1, 0.8) for _ in range(3)):
        target = int(total * fraction)

        def reached(target: int = target) -> bool:
            send.tick()
            return len(send.received()) >= target or send.status() == "sent"

        processes.wait_until(reached, timeout=90, what=f"{target} messages")
        if send.status() == "sent":
            break
        assert send.worker is not None
        processes.kill_hard(send.worker)
        kills += 1
        # Not marked sent early: messages were still unsent when the worker died.
        if len(send.received()) < total:
            assert send.status() == "sending"
        send.start_worker()
    return kills


def test_five_thousand_recipients_each_receive_it_once_on_postgres_and_redis(
    make_send: Any, postgres_url: str, redis_server: Any
) -> None:
    send = make_send(postgres_url, redis_server.url, 5000, batch_size=250)
    send.start_worker()
    _start(send)
    send.wait_sent()

    received = send.received()
    assert received == Counter(send.readers)
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 5000}


def test_kill_9_three_times_on_postgres_and_redis(
    make_send: Any, postgres_url: str, redis_server: Any
) -> None:
    send = make_send(postgres_url, redis_server.url, 5000, batch_size=250)
    send.start_worker()
    _start(send)
    kills = _crash_three_times(send)
    send.wait_sent()

    received = send.received()
    assert set(received) == set(send.readers)  # nobody lost
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= kills * CONCURRENCY  # at most one in flight per connection
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 5000}


def test_kill_9_three_times_on_the_embedded_default(make_send: Any, tmp_path: Path) -> None:
    send = make_send(bulk.sqlite_url(tmp_path), "", 1000, batch_size=50)
    send.start_worker()
    _start(send)
    kills = _crash_three_times(send)
    send.wait_sent()

    received = send.received()
    assert set(received) == set(send.readers)
    assert sum(n - 1 for n in received.values()) <= kills * CONCURRENCY
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 1000}
