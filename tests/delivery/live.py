"""One edition sent by real worker processes to a real SMTP server process.

Shared by the end-to-end tests that crash things (workers, the database, the starting
process). Recovery comes from the delivery tick (the sweeper), run in the test process as
beat would run it.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.delivery import controls, sweeper
from tests import processes
from tests.delivery import bulk
from tests.smtp_sink import Faults, SinkProcess
from workers.app import create_celery

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
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: int = 0

    @property
    def worker(self) -> subprocess.Popen[bytes] | None:
        return self.workers[-1] if self.workers else None

    def start_worker(
        self, concurrency: int = CONCURRENCY, queues: str | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"worker-{self.restarts}.log"
        self.restarts += 1
        worker = processes.start_worker(self.env, log, concurrency=concurrency, queues=queues)
        self.workers.append(worker)
        return worker

    def enqueue(
        self, count: int, task: str = "delivery.send_batch", queue: str | None = None
    ) -> None:
        celery = create_celery(self.settings)
        for _ in range(count):
            celery.send_task(task, args=[self.edition_id], queue=queue)

    def start(self, *, audience_queue: str | None = None) -> controls.StartResult:
        """`send --now` as the command does it: start, commit, then ring for the work (the
        rest of the audience snapshot on `audience_queue` when given)."""
        with self.sessions() as session, session.begin():
            result = controls.send_now(session, self.edition_id, settings=self.settings)
        self.enqueue(result.batches)
        if result.audience_pending:
            self.enqueue(1, "delivery.build_audience", queue=audience_queue)
        return result

    def tick(self) -> None:
        """The delivery tick, for this test's edition only (the database may hold others)."""
        with self.sessions() as session, session.begin():
            result = sweeper.sweep(session, settings=self.settings)
        self.enqueue(result.batches.get(self.edition_id, 0))
        if self.edition_id in result.audiences:
            self.enqueue(1, "delivery.build_audience")

    def records(self) -> list[dict[str, Any]]:
        mine = set(self.readers)
        return [r for r in self.sink.records() if r["rcpt"] in mine]

    def received(self) -> Counter[str]:
        return Counter(r["rcpt"] for r in self.records())

    def status(self) -> str:
        return bulk.edition_row(self.sessions, self.edition_id).status

    def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.5
    ) -> None:
        """Tick until `predicate`; on a timeout, fail with the rows and the workers' logs.

        Every `interval` seconds only: the tick and reading what the sink recorded take CPU
        from the workers under test."""

        def ticked() -> bool:
            self.tick()
            return predicate()

        try:
            processes.wait_until(ticked, timeout=timeout, what=what, interval=interval)
        except TimeoutError as error:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted(self.tmp_path.glob("worker-*.log"))
            )
            rows = bulk.counts(self.sessions, self.edition_id)
            raise AssertionError(f"{error}; rows {rows}\n{logs}") from error

    def wait_sent(self, timeout: float = 120) -> None:
        self.wait_until(lambda: self.status() == "sent", timeout=timeout, what="the edition sent")

    def stop(self) -> None:
        for worker in self.workers:
            processes.stop(worker)


MakeSend = Callable[..., Send]


@pytest.fixture
def make_send(tmp_path: Path) -> Iterator[MakeSend]:
    """`make_send(url, broker_url, recipients, batch_size=…)`: readers, an edition, a sink."""
    sends: list[Send] = []

    def make(
        url: str,
        broker_url: str,
        recipients: int,
        *,
        batch_size: int,
        faults: Faults | None = None,
        every: int | None = None,
        **mail: str,
    ) -> Send:
        """`every`: readers written by PostgreSQL, one in `every` of `recipients`
        subscribers following the edition's topic (`bulk.populate_many`)."""
        _engine, sessions = bulk.migrated(url)
        folder = tmp_path / f"send-{len(sends)}"
        folder.mkdir()
        sink = SinkProcess(record=folder / "received.jsonl", faults=faults).start()
        options = {
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": str(sink.port),
            "smtp_security": "none",
            "rate_per_second": "100000",
            "rate_per_hour": "10000000",
            "batch_size": str(batch_size),
            "lease_seconds": "30",
            **mail,
        }
        env = processes.dispatch_env(
            data_dir=folder / "var",
            database_url=url,
            broker_url=broker_url,
            DISPATCH_SECURITY__SECRET_KEY="test-verp-secret",
            DISPATCH_APP__LOG_LEVEL="WARNING",
            **{f"DISPATCH_MAIL__{k.upper()}": v for k, v in options.items()},
        )
        settings = bulk.make_settings(
            folder, url, broker_url=broker_url, smtp_port=sink.port, batch_size=batch_size
        )
        topic = bulk.unique_topic()
        if every is None:
            readers = bulk.populate(sessions, recipients, topic=topic)
        else:
            readers = bulk.populate_many(sessions, recipients, topic=topic, every=every)
        edition_id = bulk.make_edition(sessions, topic=topic)
        send = Send(folder, url, broker_url, sessions, sink, settings, readers, edition_id, env)
        sends.append(send)
        return send

    yield make
    for send in sends:
        send.stop()
        send.sink.stop()
