"""The audience mail tasks in a real worker: a confirmation asked for once, rung twice (a
redelivered task, a sweep that re-asks), reaches the reader once, in their language."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from dispatch import migrate
from dispatch.audience import mail_requests, service
from dispatch.audience.consent import Origin
from dispatch.config import AppSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker, session_scope
from dispatch.demo import ensure_topics
from tests import processes
from workers.app import create_celery
from workers.doorbell import CeleryDoorbell

pytestmark = pytest.mark.slow


def test_a_confirmation_rung_twice_arrives_once_in_the_readers_language(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = build_settings(app=AppSettings(data_dir=tmp_path / "var"))
    with session_scope(make_sessionmaker(engine)) as session:
        ensure_topics(session)
        asked = service.request_subscription(
            session,
            settings,
            service.SubscriptionRequest(
                email="camille@example.org", locale="en", topics={"blog": "weekly"}
            ),
            Origin("test"),
        )
    assert asked.mail == "confirm" and asked.subscriber_id is not None
    bell = CeleryDoorbell(create_celery(settings))
    for _ in range(2):  # the web app's ring, then a sweep's or a redelivery's
        bell.ring(mail_requests.TASKS["confirm"], asked.subscriber_id)
    queue = settings.broker_folder / "queue"
    assert len(list(queue.glob("*.msg"))) == 2

    env = processes.dispatch_env(data_dir=tmp_path / "var", database_url=url)
    worker = processes.start_worker(env, tmp_path / "worker.log")
    outbox = settings.mail_outbox_dir
    try:
        processes.wait_until(
            lambda: any(outbox.glob("*.eml")), timeout=60, what="the confirmation email"
        )
        # Both tasks have run once the queue is empty; the second sent nothing.
        processes.wait_until(
            lambda: not any(queue.glob("*.msg")),
            timeout=30,
            what="the second task",
        )
        with session_scope(make_sessionmaker(engine)) as session:
            assert mail_requests.due(session, settings, "confirm", asked.subscriber_id) is None
    except TimeoutError as error:
        log = (tmp_path / "worker.log").read_text(errors="replace")
        raise AssertionError(f"{error}\n--- worker.log\n{log}") from error
    finally:
        processes.stop(worker)
        engine.dispose()

    sent = sorted(outbox.glob("*.eml"))
    assert len(sent) == 1
    message = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "camille@example.org"
    assert message["Content-Language"] == "en"
    body = message.get_body(("plain",))
    assert body is not None and "/confirm/" in body.get_content()
