"""Mail a person is waiting for never queues behind a bulk send: with the two workers of
`dispatch run` (bulk, and transactional), a confirmation asked for while a large edition is
going out through a slow relay arrives before the edition is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.audience import mail_requests, service
from dispatch.audience.consent import Origin
from dispatch.delivery import controls
from tests.delivery import bulk
from tests.delivery.live import MakeSend, Send, make_send
from tests.smtp_sink import Faults
from workers.app import BULK_QUEUE, TRANSACTIONAL_QUEUE, create_celery
from workers.doorbell import CeleryDoorbell

pytestmark = pytest.mark.slow
__all__ = ["make_send"]

READERS = 600


def ask_to_subscribe(send: Send, email: str) -> None:
    """What the subscribe form does: the request row, then a ring after commit."""
    with send.sessions() as session, session.begin():
        asked = service.request_subscription(
            session, send.settings, service.SubscriptionRequest(email=email), Origin("test")
        )
    assert asked.mail == "confirm" and asked.subscriber_id is not None
    CeleryDoorbell(create_celery(send.settings)).ring(
        mail_requests.TASKS["confirm"], asked.subscriber_id
    )


def arrived(send: Send, email: str) -> bool:
    return any(record["rcpt"] == email for record in send.sink.records())


def test_a_confirmation_arrives_while_a_large_edition_is_still_sending(
    make_send: MakeSend, tmp_path: Path
) -> None:
    # One batch holds the whole edition, each message slowed by the relay: a worker taking
    # both queues would send the confirmation only once the edition is done.
    send = make_send(
        bulk.sqlite_url(tmp_path),
        "",
        READERS,
        batch_size=READERS,
        faults=Faults(slow_data=0.02),
    )
    send.start_worker(concurrency=1, queues=BULK_QUEUE)
    send.start_worker(concurrency=1, queues=TRANSACTIONAL_QUEUE)
    ask_to_subscribe(send, "premiere@example.org")  # the mail worker is up once it is here
    send.wait_until(
        lambda: arrived(send, "premiere@example.org"), timeout=90, what="a first confirmation"
    )

    send.start()
    send.wait_until(lambda: bool(send.records()), timeout=90, what="the edition's first message")
    ask_to_subscribe(send, "pressee@example.org")
    send.wait_until(lambda: arrived(send, "pressee@example.org"), timeout=60, what="the email")

    assert send.status() == "sending"
    assert len(send.records()) < READERS, "the confirmation came after the whole edition"
    with send.sessions() as session, session.begin():
        controls.cancel(session, send.edition_id)
