"""Social tasks: turn publication events into posts, and publish the posts that are due."""

from __future__ import annotations

from dispatch.config import get_settings
from dispatch.db import session_scope, utcnow
from dispatch.social import publishing, service
from workers.app import app, enqueue


@app.task(name="social.consume_publications", acks_late=True, ignore_result=True)
def consume_publications() -> None:
    """Beat tick: one post per matching account for each new item."""
    with session_scope() as session:
        posts = service.consume_publications(session, get_settings())
        now = utcnow()
        due = [p.id for p in posts if p.scheduled_at is not None and p.scheduled_at <= now]
    # Posts due at once go out now rather than at the next tick (after the commit above).
    for post_id in due:
        enqueue("social.publish_post", post_id)


@app.task(name="social.publish_due", acks_late=True, ignore_result=True)
def publish_due() -> None:
    """Beat tick: the database says which posts are due; each becomes its own task."""
    with session_scope() as session:
        ids = publishing.due_post_ids(session)
    for post_id in ids:
        enqueue("social.publish_post", post_id)


@app.task(
    name="social.publish_post",
    acks_late=True,
    ignore_result=True,
    time_limit=600,
    soft_time_limit=570,
)
def publish_post(post_id: int) -> None:
    publishing.publish_post(post_id, settings=get_settings(), scope=session_scope)
