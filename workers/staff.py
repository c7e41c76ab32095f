"""Staff tasks: the invitation and password-reset emails, and a sweep for lost ones."""

from __future__ import annotations

from dispatch.config import get_settings
from dispatch.db import session_scope
from dispatch.delivery import transactional
from dispatch.staff import mail
from workers.app import app, enqueue


@app.task(name="staff.send_link", acks_late=True, ignore_result=True)
def send_link(link_id: int) -> None:
    settings = get_settings()
    with session_scope() as session:
        prepared = mail.prepare(session, settings, link_id)
    if prepared is None:
        return
    outcome = transactional.send_once(settings, prepared.recipient, prepared.message)
    if outcome.ok:
        with session_scope() as session:
            mail.mark_sent(session, link_id)


@app.task(name="staff.sweep_links", acks_late=True, ignore_result=True)
def sweep_links() -> None:
    """Beat: links whose email task was lost are asked for again."""
    with session_scope() as session:
        due = mail.unsent_links(session)
    for link_id in due:
        enqueue(mail.TASK, link_id)
