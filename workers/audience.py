"""Audience tasks: the emails people ask for, and the expiry of unconfirmed requests."""

from __future__ import annotations

from typing import Any

from dispatch.audience import mail_requests, records, service
from dispatch.config import get_settings
from dispatch.db import session_scope
from dispatch.delivery import transactional
from dispatch.delivery.transport import SendOutcome, SendStatus, for_settings
from workers.app import app, enqueue

RETRY_DELAYS = (60, 300, 900)  # seconds: the relay may be down for a while


@app.task(name="audience.send_confirmation", acks_late=True, ignore_result=True, bind=True)
def send_confirmation(self: Any, subscriber_id: int) -> None:
    _send(self, "confirm", subscriber_id)


@app.task(name="audience.send_preferences_link", acks_late=True, ignore_result=True, bind=True)
def send_preferences_link(self: Any, subscriber_id: int) -> None:
    _send(self, "link", subscriber_id)


@app.task(name="audience.send_welcome", acks_late=True, ignore_result=True, bind=True)
def send_welcome(self: Any, subscriber_id: int) -> None:
    _send(self, "welcome", subscriber_id)


def _send(task: Any, kind: mail_requests.Kind, subscriber_id: int) -> None:
    # Read, then send with no transaction open (SQLite's write lock is never held during
    # SMTP), then record. A crash between the last two may repeat this one email.
    settings = get_settings()
    with session_scope() as session:
        prepared = transactional.prepare(session, settings, kind, subscriber_id)
    if prepared is None:
        return
    outcome = transactional.deliver(settings, prepared, for_settings(settings))
    if outcome.ok:
        with session_scope() as session:
            transactional.record_sent(session, prepared)
    _retry_if_temporary(task, outcome)


@app.task(name="audience.send_repermission", acks_late=True, ignore_result=True, bind=True)
def send_repermission(self: Any, subscriber_id: int) -> None:
    """The « Je reste abonné·e » email of a purge: many at once, so on the bulk queue."""
    _send(self, "repermission", subscriber_id)


@app.task(name="audience.handle_link_request", acks_late=True, ignore_result=True)
def handle_link_request(request_id: int) -> None:
    """An "email me my link" from the public page: the preferences link (or the
    confirmation again) if the address is subscribed, nothing otherwise."""
    with session_scope() as session:
        service.handle_link_request(session, get_settings(), request_id)


@app.task(name="audience.sweep_mail", acks_late=True, ignore_result=True)
def sweep_mail() -> None:
    """Beat: requested emails whose task was lost (no worker, a crash) are asked for again."""
    with session_scope() as session:
        due = mail_requests.unsent(session)
    for task, subscriber_id in due:
        enqueue(task, subscriber_id)


@app.task(name="audience.expire_pending", acks_late=True, ignore_result=True)
def expire_pending() -> None:
    """Beat, daily or hourly: drop subscription requests nobody confirmed in time."""
    with session_scope() as session:
        records.expire_pending(session, get_settings())


def _retry_if_temporary(task: Any, outcome: SendOutcome | None) -> None:
    if outcome is None or outcome.status is not SendStatus.RETRY:
        return
    attempt = task.request.retries
    if attempt < len(RETRY_DELAYS):
        raise task.retry(countdown=RETRY_DELAYS[attempt], max_retries=len(RETRY_DELAYS))
