"""The editorial desk: one decision per published item, for every channel at once.

Each publication event opens a `DeskDecision` with the strictest policy of the item's topics:
*automatic* items are released to every channel at once (what dispatch always did),
*approval* items wait (`pending`) until staff approve them, and *manual* items never go out
by themselves: staff release channels by hand. One approval releases every channel, a hold
stops every channel, and any channel can still be switched off alone.

Channels are strings: "alert", "digest", "letter", and "social:<account id>" ("social" alone
names every account at once). Content does not know its consumers: each asks `released()`
whether it may carry an item now and `stopped()` whether it never will, and obeys.
An item with no decision (announced silently, or published before the desk existed) is
released everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem, DeskDecision, Topic
from dispatch.db import utcnow

POLICIES = ("automatic", "approval", "manual")
STATES = ("automatic", "pending", "approved", "held", "manual")
#: The channels every item has; social accounts add "social:<id>".
CHANNELS = ("alert", "digest", "letter", "social")
#: States in which staff have something left to decide.
AWAITING = ("pending", "manual")
_STATE_OF_POLICY = {"automatic": "automatic", "approval": "pending", "manual": "manual"}


class DeskError(ContentError):
    """A desk request that cannot be done; the message says why."""


def strictest(policies: Iterable[str]) -> str:
    """Manual beats approval beats automatic: an item goes by its most careful topic."""
    found = set(policies)
    for policy in reversed(POLICIES):
        if policy in found:
            return policy
    return "automatic"


def check_channel(channel: str) -> str:
    channel = channel.strip().lower()
    if channel in CHANNELS:
        return channel
    prefix, _, account = channel.partition(":")
    if prefix == "social" and account.isdigit():
        return f"social:{int(account)}"
    raise DeskError(
        f"unknown channel {channel!r} (alert, digest, letter, social, or social:<account id>)"
    )


# --- opening and reading decisions ---------------------------------------------------------


def open_decision(session: Session, item: ContentItem) -> DeskDecision:
    """The item's decision, made once when its publication event fires."""
    existing = decision_of(session, item.id)
    if existing is not None:
        return existing
    policy = strictest(topic.desk_policy for topic in item.topics)
    decision = DeskDecision(item_id=item.id, policy=policy, state=_STATE_OF_POLICY[policy])
    decision.channels = {}
    session.add(decision)
    session.flush()
    return decision


def decision_of(session: Session, item_id: int) -> DeskDecision | None:
    return session.scalar(select(DeskDecision).where(DeskDecision.item_id == item_id))


def _decisions(session: Session, item_ids: Iterable[int]) -> dict[int, DeskDecision]:
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    rows = session.scalars(select(DeskDecision).where(DeskDecision.item_id.in_(ids)))
    return {row.item_id: row for row in rows}


def channel_state(decision: DeskDecision | None, channel: str) -> str:
    """ "released", "waiting" (for staff), "off" (this channel alone) or "held" (all)."""
    if decision is None:
        return "released"
    if decision.state == "held":
        return "held"
    chosen = (decision.channels or {}).get(channel)
    if chosen is None and channel.startswith("social:"):
        chosen = (decision.channels or {}).get("social")
    if chosen in ("released", "off"):
        return chosen
    return "released" if decision.state in ("automatic", "approved") else "waiting"


def released(session: Session, item_ids: Iterable[int], channel: str) -> set[int]:
    """The items of `item_ids` that `channel` may carry now."""
    ids = set(item_ids)
    decisions = _decisions(session, ids)
    return {i for i in ids if channel_state(decisions.get(i), channel) == "released"}


def stopped(session: Session, item_ids: Iterable[int], channel: str) -> set[int]:
    """The items `channel` will never carry unless staff change their mind (held or off)."""
    ids = set(item_ids)
    decisions = _decisions(session, ids)
    return {i for i in ids if channel_state(decisions.get(i), channel) in ("held", "off")}


def staff_released(decision: DeskDecision | None, channel: str) -> bool:
    """Released by a person (an approval, or the channel turned on), not by the policy."""
    if decision is None or channel_state(decision, channel) != "released":
        return False
    return decision.state != "automatic" or (decision.channels or {}).get(channel) == "released"


def decisions(
    session: Session, *, awaiting: bool = False, limit: int = 50, before_id: int | None = None
) -> list[DeskDecision]:
    """Decisions newest first; with `awaiting`, only those staff still have to make."""
    query = select(DeskDecision)
    if awaiting:
        query = query.where(DeskDecision.state.in_(AWAITING))
    if before_id is not None:
        query = query.where(DeskDecision.id < before_id)
    return list(session.scalars(query.order_by(DeskDecision.id.desc()).limit(limit)))


def pending(session: Session, *, limit: int = 200) -> list[DeskDecision]:
    """What awaits staff: items waiting for approval first, then manual ones, oldest first."""
    order = case((DeskDecision.state == "pending", 0), else_=1)
    return list(
        session.scalars(
            select(DeskDecision)
            .where(DeskDecision.state.in_(AWAITING))
            .order_by(order, DeskDecision.id)
            .limit(limit)
        )
    )


# --- staff decisions -----------------------------------------------------------------------


def _decision(session: Session, item_id: int) -> DeskDecision:
    decision = decision_of(session, item_id)
    if decision is None:
        if session.get(ContentItem, item_id) is None:
            raise DeskError(f"there is no item {item_id}")
        raise DeskError(
            f"item {item_id} is not on the desk (it was never announced, or was already "
            "online when its source was added)"
        )
    return decision


def _decided(session: Session, decision: DeskDecision, now: datetime | None) -> None:
    decision.decided_by = audit.actor_of(session).label
    decision.decided_at = now or utcnow()


def _settle(decision: DeskDecision) -> None:
    # Every channel decided one by one: nothing is left waiting, the decision is made.
    if decision.state in AWAITING and all(c in decision.channels for c in CHANNELS):
        decision.state = "approved"


def approve(
    session: Session,
    item_id: int,
    only: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> DeskDecision:
    """Release every channel at once, or only the channels named in `only`.

    Channels switched off stay off. Approving a held item lifts the hold.
    """
    decision = _decision(session, item_id)
    if decision.item.status != "published":
        raise DeskError(f"item {item_id} is no longer published")
    chosen = [check_channel(c) for c in only] if only else []
    if decision.state == "held" and chosen:
        decision.state = "manual" if decision.policy == "manual" else "pending"
    if chosen:
        decision.channels = {**(decision.channels or {}), **dict.fromkeys(chosen, "released")}
        _settle(decision)
    else:
        decision.state = "approved"
    _decided(session, decision, now)
    session.flush()
    _record(session, "desk.approved", decision, only=chosen or "all")
    return decision


def hold(session: Session, item_id: int, *, now: datetime | None = None) -> DeskDecision:
    """Stop every channel at once; what was waiting (social posts) is cancelled by its owner."""
    decision = _decision(session, item_id)
    decision.state = "held"
    _decided(session, decision, now)
    session.flush()
    _record(session, "desk.held", decision)
    return decision


def set_channel(
    session: Session, item_id: int, channel: str, on: bool, *, now: datetime | None = None
) -> DeskDecision:
    """Switch one channel off, or on (which releases it, by hand, whatever the policy)."""
    channel = check_channel(channel)
    decision = _decision(session, item_id)
    if on and decision.state == "held":
        raise DeskError(f"item {item_id} is held on every channel: approve it first")
    decision.channels = {**(decision.channels or {}), channel: "released" if on else "off"}
    _settle(decision)
    _decided(session, decision, now)
    session.flush()
    _record(session, "desk.channel_changed", decision, channel=channel, on=on)
    return decision


def set_policy(session: Session, slug: str, policy: str) -> Topic:
    """A topic's policy, for the items published from now on."""
    if policy not in POLICIES:
        raise DeskError(f"unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    topic = session.scalar(select(Topic).where(Topic.slug == slug.strip().lower().lstrip("#")))
    if topic is None:
        raise DeskError(f"unknown topic {slug!r}")
    before, topic.desk_policy = topic.desk_policy, policy
    session.flush()
    audit.record(
        session,
        "desk.policy_changed",
        object_type="topic",
        object_id=topic.id,
        summary={"slug": topic.slug, "from": before, "to": policy},
    )
    return topic


def _record(session: Session, action: str, decision: DeskDecision, **summary: Any) -> None:
    audit.record(
        session,
        action,
        object_type="item",
        object_id=decision.item_id,
        summary={"state": decision.state, "title": decision.item.title[:200], **summary},
    )


def as_dict(decision: DeskDecision, extra_channels: Iterable[str] = ()) -> dict[str, Any]:
    """A decision as staff read it: each channel with its state."""
    item = decision.item
    names = [*CHANNELS, *sorted(set(extra_channels) - set(CHANNELS))]
    return {
        "item_id": decision.item_id,
        "title": item.title,
        "url": item.url,
        "kind": item.kind,
        "topics": [t.slug for t in item.topics],
        "policy": decision.policy,
        "state": decision.state,
        "channels": {name: channel_state(decision, name) for name in names},
        "decided_by": decision.decided_by,
        "decided_at": decision.decided_at.isoformat() if decision.decided_at else None,
        "created_at": decision.created_at.isoformat(),
    }
