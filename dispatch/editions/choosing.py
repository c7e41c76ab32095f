"""Choosing what an edition holds: items published in a span, in the newsletter's order.

Order in a newsletter: posts (newest first), then upcoming events (soonest first; past events,
events more than `EVENT_HORIZON` ahead and later dates of a recurring event are left out),
then curated picks grouped by tag (#onaime, #controverse, #mustread, then any other tag),
newest first within a tag. Alerts and digests follow the same order and rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from dispatch.content import desk
from dispatch.content import topics as content_topics
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem, item_topics
from dispatch.db import utcnow
from dispatch.editions.errors import DraftError
from dispatch.editions.models import Edition
from dispatch.editions.views import PICK_TAGS

#: How far back a first newsletter looks when there is no earlier one to start from.
FIRST_NEWSLETTER_LOOKBACK = timedelta(days=30)
#: Events further ahead than this wait for a later edition.
EVENT_HORIZON = timedelta(days=120)
MAX_ITEMS = 60


def published_time() -> ColumnElement[datetime]:
    """When an item counts as published: its own date, else when dispatch first saw it."""
    return func.coalesce(ContentItem.published_at, ContentItem.first_seen_at)


def _when(item: ContentItem) -> datetime:
    return item.published_at or item.first_seen_at


def _event_is_upcoming(item: ContentItem, now: datetime) -> bool:
    end = item.event_end or item.event_start
    return end is not None and end >= now


def order_items(items: Iterable[ContentItem], *, now: datetime | None = None) -> list[ContentItem]:
    """Newsletter order: posts, upcoming events, picks by tag (see the module docstring)."""
    now = now or utcnow()
    unique = list({item.id: item for item in items}.values())
    posts = sorted(
        (i for i in unique if i.kind not in ("event", "pick")), key=lambda i: (_when(i), i.id)
    )
    posts.reverse()
    events: list[ContentItem] = []
    seen_titles: set[str] = set()
    for event in sorted(
        (i for i in unique if i.kind == "event" and _event_is_upcoming(i, now)),
        key=lambda i: (i.event_start or now, i.id),
    ):
        # A recurring event (a workshop every first Thursday) shows once: its next date.
        title = " ".join(event.title.casefold().split())
        if title in seen_titles or (event.event_start or now) > now + EVENT_HORIZON:
            continue
        seen_titles.add(title)
        events.append(event)
    tag_rank = {tag: n for n, tag in enumerate(PICK_TAGS)}

    def pick_key(item: ContentItem) -> tuple[int, str, float, int]:
        tag = item.tag or ""
        return (tag_rank.get(tag, len(PICK_TAGS)), tag, -_when(item).timestamp(), -item.id)

    picks = sorted((i for i in unique if i.kind == "pick"), key=pick_key)
    return [*posts, *events, *picks]


def last_newsletter_time(session: Session) -> datetime | None:
    """When the latest newsletter went (or is due to go) out; drafts and cancelled ones
    don't count."""
    return session.scalar(
        select(func.max(func.coalesce(Edition.started_at, Edition.send_at))).where(
            Edition.kind == "newsletter",
            Edition.status.in_(("scheduled", "sending", "paused", "sent")),
        )
    )


def _with_topics(query: Any, session: Session, topics: Sequence[str]) -> Any:
    if not topics:
        return query
    try:
        wanted = [t.id for t in content_topics.topics_by_slug(session, topics)]
    except ContentError as error:
        raise DraftError(str(error)) from error
    return query.where(
        exists(
            select(item_topics.c.item_id).where(
                item_topics.c.item_id == ContentItem.id, item_topics.c.topic_id.in_(wanted)
            )
        )
    )


def items_published_between(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None = None,
    topics: Sequence[str] = (),
    limit: int = 500,
    channel: str | None = None,
) -> list[ContentItem]:
    """Published items first published in [since, until), any of `topics` if given, and
    only those the editorial desk released for `channel` ("digest", "letter") if given."""
    query = select(ContentItem).where(ContentItem.status == "published")
    if since is not None:
        query = query.where(published_time() >= since)
    if until is not None:
        query = query.where(published_time() < until)
    query = _with_topics(query, session, topics)
    found = list(session.scalars(query.order_by(published_time().desc()).limit(limit)))
    if channel is None:
        return found
    allowed = desk.released(session, [item.id for item in found], channel)
    return [item for item in found if item.id in allowed]


def default_items(
    session: Session,
    *,
    since: datetime | None = None,
    topics: Sequence[str] = (),
    now: datetime | None = None,
) -> list[ContentItem]:
    """What a new newsletter holds unless staff choose: items published since `since`
    (default: since the last newsletter, or the last 30 days for a first one), ordered."""
    now = now or utcnow()
    if since is None:
        since = last_newsletter_time(session) or now - FIRST_NEWSLETTER_LOOKBACK
    found = items_published_between(session, since=since, topics=topics, channel="letter")
    return order_items(found, now=now)[:MAX_ITEMS]


def items_by_ids(session: Session, ids: Sequence[int]) -> list[ContentItem]:
    """The items staff named, in their order; unknown, unpublished, held or repeated ids
    refused."""
    if not ids:
        raise DraftError("No items given.")
    repeated = sorted({i for i in ids if list(ids).count(i) > 1})
    if repeated:
        raise DraftError(f"Item(s) given twice: {', '.join(map(str, repeated))}.")
    if len(ids) > MAX_ITEMS:
        raise DraftError(f"{len(ids)} items is too many for one email; at most {MAX_ITEMS}.")
    found = {i.id: i for i in session.scalars(select(ContentItem).where(ContentItem.id.in_(ids)))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise DraftError(f"No item with id {', '.join(missing)} (see `dispatch items list`).")
    hidden = [str(i) for i in ids if found[i].status != "published"]
    if hidden:
        raise DraftError(f"Item(s) {', '.join(hidden)} are no longer published.")
    held = [str(i) for i in ids if _held(session, i)]
    if held:
        raise DraftError(
            f"Item(s) {', '.join(held)} are held on the editorial desk; approve them first "
            f"(`dispatch desk approve {held[0]}`) or leave them out."
        )
    return [found[i] for i in ids]


def _held(session: Session, item_id: int) -> bool:
    """Staff held this item on the desk: no edition may carry it."""
    return desk.channel_state(desk.decision_of(session, item_id), "letter") == "held"
