"""Once per reader, end to end on PostgreSQL + Redis: a worker process, a real SMTP server,
a kill -9 mid-alert.

Readers who get a post "immediately" find it neither in Monday's digest nor in a letter
composed afterwards; a reader who never had it finds it in the letter; a letter sent whole
brings it to everyone. After the worker is killed during the alert, the receipts equal what
the SMTP server received, reader by reader and edition by edition.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.audience.models import Receipt, Subscriber
from dispatch.config import Settings
from dispatch.delivery import sweeper
from dispatch.editions import alerts, digests, drafts
from dispatch.editions.models import Edition
from dispatch.editions.schedule import schedule_edition
from tests import factories, processes
from tests.delivery import bulk
from tests.editions.delivered import publish
from tests.smtp_sink import SinkProcess
from workers.app import create_celery

pytestmark = pytest.mark.slow
FAST = 60  # "immediately" for the blog topic, weekly for the picks topic
WEEKLY = 15  # weekly for the picks topic only
NEVER = 10  # the blog topic monthly: neither the alert nor the weekly digest
_EDITION = re.compile(r"\.e(\d+)@")
# A Monday at 08:00 in Paris of its own (other tests sharing the database use other weeks).
DUE = datetime(2026, 2, 16, 7, 0, tzinfo=UTC)


class Run:
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
        self.blog, self.picks = bulk.unique_topic(), bulk.unique_topic()
        self.worker: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def readers(self, prefix: str, count: int, topics: dict[str, str]) -> set[str]:
        with self.sessions() as session, session.begin():
            for n in range(count):
                factories.subscriber(session, email=f"{prefix}-{n}@example.org", topics=topics)
        return {f"{prefix}-{n}@example.org" for n in range(count)}

    def start_worker(self) -> None:
        log = self.tmp_path / f"worker-{self.restarts}.log"
        self.restarts += 1
        self.worker = processes.start_worker(self.env, log, concurrency=2)

    def start(self, edition_id: int, at: datetime) -> None:
        with self.sessions() as session, session.begin():
            started = sweeper.start_due_editions(session, settings=self.settings, now=at)
        result = started.get(edition_id)
        assert result is not None, f"edition {edition_id} did not start"
        celery = create_celery(self.settings)
        for _ in range(result.batches):
            celery.send_task("delivery.send_batch", args=[edition_id])
        if result.audience_pending:
            celery.send_task("delivery.build_audience", args=[edition_id])

    def tick(self) -> None:
        with self.sessions() as session, session.begin():
            result = sweeper.sweep(session, settings=self.settings)
        celery = create_celery(self.settings)
        for edition_id, count in result.batches.items():
            for _ in range(count):
                celery.send_task("delivery.send_batch", args=[edition_id])

    def received(self, edition_id: int) -> Counter[str]:
        return Counter(
            record["rcpt"]
            for record in self.sink.records()
            if record["acknowledged"]
            and (match := _EDITION.search(record["message_id"] or ""))
            and int(match.group(1)) == edition_id
        )

    def wait(self, edition_id: int, *, received: int | None = None) -> None:
        def reached() -> bool:
            self.tick()
            if received is not None:
                return sum(self.received(edition_id).values()) >= received
            return bulk.edition_row(self.sessions, edition_id).status == "sent"

        try:
            processes.wait_until(reached, timeout=120, what=f"edition {edition_id}")
        except TimeoutError as error:
            logs = "\n".join(
                f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                for log in sorted(self.tmp_path.glob("worker-*.log"))
            )
            rows = bulk.counts(self.sessions, edition_id)
            raise AssertionError(f"{error}; rows {rows}\n{logs}") from error

    def receipts(self, edition_id: int) -> dict[str, set[int]]:
        """Reader -> the items their receipts for this edition name."""
        found: dict[str, set[int]] = {}
        with self.sessions() as session:
            for email, item_id in session.execute(
                select(Subscriber.email, Receipt.item_id)
                .join(Subscriber, Subscriber.id == Receipt.subscriber_id)
                .where(Receipt.edition_id == edition_id)
            ):
                found.setdefault(email, set()).add(item_id)
        return found

    def rows(self, edition_id: int, emails: list[str]) -> list[tuple[Any, ...]]:
        """The delivery rows of these readers, to say why they have no receipt."""
        from dispatch.delivery.models import Delivery

        with self.sessions() as session:
            return [
                tuple(row)
                for row in session.execute(
                    select(Subscriber.email, Delivery.status, Delivery.error, Delivery.sent_at)
                    .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                    .where(Delivery.edition_id == edition_id, Subscriber.email.in_(emails))
                )
            ]

    def letter(self, subject: str, item_ids: list[int], *, whole: bool, at: datetime) -> int:
        with self.sessions() as session, session.begin():
            items = [session.get(factories.ContentItem, i) for i in item_ids]
            edition = drafts.create_edition(
                session,
                subject=subject,
                items=[i for i in items if i is not None],
                topics=[self.blog, self.picks],
                send_whole=whole,
            )
            schedule_edition(session, edition.id, send_at=at, now=at - timedelta(seconds=1))
            return edition.id

    def stop(self) -> None:
        if self.worker is not None:
            processes.stop(self.worker)
        self.sink.stop()


@pytest.fixture
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    # PostgreSQL + Redis, the production shape. The embedded default runs the same sequence
    # through the engine in tests/editions/test_once_per_reader.py, and its worker survives
    # kill -9 in tests/delivery/test_e2e.py: here, four editions through a SQLite worker
    # beside three other test processes outlast the per-test timeout on two cores.
    url = request.getfixturevalue("postgres_url")
    broker = request.getfixturevalue("redis_server").url
    started = Run(tmp_path, url, broker)
    yield started
    started.stop()


def test_a_post_reaches_each_reader_once_across_alert_digest_and_letters(run: Run) -> None:
    now = datetime.now(UTC)
    due = DUE
    published = due - timedelta(days=1)
    fast = run.readers("vite", FAST, {run.blog: "immediately", run.picks: "weekly"})
    weekly = run.readers("lundi", WEEKLY, {run.picks: "weekly"})
    never = run.readers("mois", NEVER, {run.blog: "monthly"})
    with run.sessions() as session, session.begin():
        post = factories.item(
            session,
            title="Les communs en mairie",
            topics=[run.blog, run.picks],
            published_at=published,
        ).id
        pick = factories.item(
            session,
            title="À lire",
            kind="pick",
            tag="onaime",
            topics=[run.picks],
            published_at=published,
        ).id
        publish(session, post, published)
        alert_at = published + timedelta(minutes=6)
        created = alerts.create_alerts(session, run.settings, now=alert_at).created
        (alert,) = [
            edition_id
            for edition_id in created
            if post in {link.item_id for link in session.get(Edition, edition_id).items}  # type: ignore[union-attr]
        ]

    # The alert, with the worker killed mid-send.
    run.start_worker()
    run.start(alert, alert_at)
    run.wait(alert, received=FAST // 3)
    assert run.worker is not None
    processes.kill_hard(run.worker)
    run.start_worker()
    run.wait(alert)
    sent = run.received(alert)
    assert set(sent) == fast
    assert max(sent.values()) <= 2  # a kill repeats at most the message in flight
    assert run.receipts(alert) == {email: {post} for email in fast}  # what the server got

    # Monday's digest: the post only for those who did not have it in the alert.
    with run.sessions() as session, session.begin():
        digest = digests.create_digest(session, "weekly", now=due, catch_up=False)
        assert digest is not None
        digest.send_at = now
        digest_id = digest.id
    run.start(digest_id, now)
    run.wait(digest_id)
    assert set(run.received(digest_id)) == fast | weekly
    assert run.receipts(digest_id) == {
        **{email: {pick} for email in fast},
        **{email: {post, pick} for email in weekly},
    }

    # A letter composed afterwards keeps the post only for the readers who never had it.
    with run.sessions() as session, session.begin():
        news = factories.item(session, title="Nouvelle saison", topics=[run.blog]).id
    letter = run.letter("La lettre de décembre", [post, news], whole=False, at=now)
    run.start(letter, now)
    run.wait(letter)
    assert run.receipts(letter) == {
        **{email: {news} for email in fast | weekly},
        **{email: {post, news} for email in never},
    }
    # Sent whole: everyone gets every item.
    whole = run.letter("Le numéro spécial", [post, news], whole=True, at=now)
    run.start(whole, now)
    run.wait(whole)
    expected = {email: {post, news} for email in fast | weekly | never}
    missing = sorted(set(expected) - set(run.receipts(whole)))
    assert run.receipts(whole) == expected, (missing, run.rows(whole, missing))

    # Whatever the crash, receipts and the server agree, edition by edition.
    for edition_id in (alert, digest_id, letter, whole):
        assert set(run.received(edition_id)) == set(run.receipts(edition_id))
    with run.sessions() as session:
        kinds = dict(session.execute(select(Edition.id, Edition.kind)).all())
    assert kinds[alert] == "alert" and kinds[digest_id] == "digest"
