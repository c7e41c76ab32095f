"""The audience mail tasks: each requested email goes out once, in the reader's language."""

from __future__ import annotations

import email
import email.policy
from types import SimpleNamespace

from dispatch.audience import service
from dispatch.audience.consent import Origin
from dispatch.db import session_scope
from dispatch.demo import ensure_topics
from tests.conftest import Cli


def test_the_confirmation_task_sends_once_even_when_run_twice(cli: Cli) -> None:
    from dispatch.config import get_settings
    from workers import audience as tasks

    settings = get_settings()
    sessions = cli.sessions()
    with session_scope(sessions) as session:
        ensure_topics(session)
        mail = service.request_subscription(
            session,
            settings,
            service.SubscriptionRequest(
                email="camille@example.org", locale="en", topics={"blog": "weekly"}
            ),
            Origin("test"),
        )
    assert mail.mail == "confirm" and mail.subscriber_id is not None
    stub = SimpleNamespace(request=SimpleNamespace(retries=0))
    tasks._send(stub, "confirm", mail.subscriber_id)
    tasks._send(stub, "confirm", mail.subscriber_id)  # a redelivered task

    sent = sorted(settings.mail_outbox_dir.glob("*.eml"))
    assert len(sent) == 1
    message = email.message_from_bytes(sent[0].read_bytes(), policy=email.policy.default)
    assert message["Content-Language"] == "en"
    assert "/confirm/" in message.get_body(("plain",)).get_content()
