"""Social posts obey the editorial desk (`dispatch.content.desk`).

A post about an item waiting on the desk is made as usual (its per-network text, editable)
but is not published until the desk releases its channel, "social:<account id>". Held items
and switched-off channels cancel their posts not yet published; a later approval brings back
the posts a hold cancelled. An approval by staff counts as approving the item's posts, so
that one decision sends every channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dispatch.content import desk
from dispatch.content.models import DeskDecision
from dispatch.db import utcnow
from dispatch.social import counting
from dispatch.social.models import SocialPost

#: Why the desk cancelled a post: the reason also marks it as the desk's to bring back.
HELD = "held on the editorial desk"
SWITCHED_OFF = "switched off on the editorial desk"
_DESK_REASONS = (HELD, SWITCHED_OFF)
_WAITING = ("draft", "awaiting_approval", "scheduled", "failed")


def channel(post: SocialPost) -> str:
    return f"social:{post.account_id}"


def releasable(session: Session, rows: Iterable[tuple[int, int | None, int]]) -> set[int]:
    """Of (post id, item id, account id) rows, the posts the desk lets go out now."""
    rows = list(rows)
    decisions = {
        d.item_id: d
        for d in session.scalars(
            select(DeskDecision).where(
                DeskDecision.item_id.in_({item for _, item, _ in rows if item is not None})
            )
        )
    }
    return {
        post_id
        for post_id, item_id, account_id in rows
        if item_id is None
        or desk.channel_state(decisions.get(item_id), f"social:{account_id}") == "released"
    }


def state_of(session: Session, post: SocialPost) -> str:
    """The desk's word on this post: released, waiting, off or held."""
    if post.item_id is None:
        return "released"
    return desk.channel_state(desk.decision_of(session, post.item_id), channel(post))


def approve_with_post(session: Session, post: SocialPost) -> None:
    """Staff approving a post in the social queue release its channel on the desk too."""
    if post.item_id is not None and state_of(session, post) == "waiting":
        desk.approve(session, post.item_id, only=[channel(post)])


def obey(
    session: Session, *, item_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Bring the posts of decided items in line with the desk; returns how many changed."""
    now = now or utcnow()
    query = (
        select(SocialPost, DeskDecision)
        .join(DeskDecision, DeskDecision.item_id == SocialPost.item_id)
        .where(
            or_(
                SocialPost.status.in_(_WAITING),
                and_(SocialPost.status == "cancelled", SocialPost.last_error.in_(_DESK_REASONS)),
            )
        )
    )
    if item_ids is not None:
        query = query.where(SocialPost.item_id.in_(list(item_ids)))
    changed = 0
    for post, decision in session.execute(query).all():
        state = desk.channel_state(decision, channel(post))
        if state in ("held", "off") and post.status != "cancelled":
            post.status, post.scheduled_at, post.next_attempt_at = "cancelled", None, None
            post.last_error = HELD if state == "held" else SWITCHED_OFF
        elif state == "released" and desk.staff_released(decision, channel(post)):
            if post.status not in ("cancelled", "awaiting_approval", "draft") or not post.text:
                continue
            post.status = "scheduled"
            if post.scheduled_at is None or post.scheduled_at < now:
                post.scheduled_at = now
            post.approved_by, post.approved_at = decision.decided_by, now
            post.last_error, post.attempts = None, 0
        else:
            continue
        changed += 1
    session.flush()
    return changed


# --- what boundaries call: the decision, then its posts brought in line at once ----------


def approve(
    session: Session, item_id: int, only: list[str] | None = None, *, now: datetime | None = None
) -> DeskDecision:
    decision = desk.approve(session, item_id, only, now=now)
    obey(session, item_ids=[item_id], now=now)
    return decision


def hold(session: Session, item_id: int, *, now: datetime | None = None) -> DeskDecision:
    decision = desk.hold(session, item_id, now=now)
    obey(session, item_ids=[item_id], now=now)
    return decision


def set_channel(
    session: Session, item_id: int, channel_name: str, on: bool, *, now: datetime | None = None
) -> DeskDecision:
    decision = desk.set_channel(session, item_id, channel_name, on, now=now)
    obey(session, item_ids=[item_id], now=now)
    return decision


def posts_of(session: Session, item_id: int) -> list[SocialPost]:
    return list(
        session.scalars(
            select(SocialPost).where(SocialPost.item_id == item_id).order_by(SocialPost.id)
        )
    )


def view(session: Session, decision: DeskDecision) -> dict[str, Any]:
    """A decision with every channel it has (one per social post) and its posts' text."""
    posts = posts_of(session, decision.item_id)
    data = desk.as_dict(decision, [channel(post) for post in posts])
    data["posts"] = [
        {
            "id": post.id,
            "account_id": post.account_id,
            "account": post.account.name,
            "network": post.account.network,
            "channel": channel(post),
            "status": post.status,
            "text": post.text,
            "length": counting.length(post.account.network, post.text) if post.text else 0,
            "limit": _limit(post.account.network),
            "editable": post.status in _WAITING,
        }
        for post in posts
    ]
    return data


def _limit(network: str) -> int | None:
    limits = counting.LIMITS.get(network)
    return limits.maximum if limits else None
