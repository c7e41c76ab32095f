"""Content tasks: claim due sources and poll them."""

from __future__ import annotations

from dispatch.config import get_settings
from dispatch.content import sources
from dispatch.content.polling import poll_source as poll
from dispatch.db import session_scope
from workers.app import app, enqueue


@app.task(name="content.poll_due", acks_late=True, ignore_result=True)
def poll_due() -> None:
    """Beat tick: the database says which sources are due; each becomes its own task."""
    with session_scope() as session:
        ids = sources.claim_due_sources(session)
    for source_id in ids:
        enqueue("content.poll_source", source_id)


@app.task(name="content.poll_source", acks_late=True, ignore_result=True, time_limit=300)
def poll_source(source_id: int) -> None:
    poll(source_id, settings=get_settings(), scope=session_scope)
