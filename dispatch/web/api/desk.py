"""The editorial desk: what awaits a decision, and approving, holding, switching channels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field
from sqlalchemy.orm import Session

from dispatch.content import desk
from dispatch.content.models import DeskDecision
from dispatch.social import desk as social_desk
from dispatch.staff.roles import Permission
from dispatch.web.api.auth import Caller, needs
from dispatch.web.api.paging import Cursor, Id, Limit, Page, page, read_cursor
from dispatch.web.api.problems import RESPONSES, NotFoundError
from dispatch.web.api.schemas import In, Out
from dispatch.web.deps import SessionDep

router = APIRouter(prefix="/desk", tags=["desk"], responses=RESPONSES)
ChannelName = Annotated[str, Field(pattern=r"^(alert|digest|letter|social(:\d{1,10})?)$")]
ChannelState = Literal["released", "waiting", "off", "held"]


class DeskPostOut(Out):
    id: int
    account_id: int
    account: str
    network: str
    channel: str
    status: str
    text: str
    length: int
    limit: int | None
    editable: bool


class DecisionOut(Out):
    item_id: int
    title: str
    url: str
    kind: str
    topics: list[str]
    policy: Literal["automatic", "approval", "manual"]
    state: Literal["automatic", "pending", "approved", "held", "manual"]
    channels: dict[str, ChannelState] = Field(
        description="Each channel: released (it may carry the item now), waiting (for staff), "
        "off (this channel alone) or held (every channel)."
    )
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    posts: list[DeskPostOut]


class ApproveIn(In):
    only: list[ChannelName] | None = Field(
        default=None, max_length=50, description="Release only these channels; none: all."
    )


class ChannelsIn(In):
    channels: dict[ChannelName, bool] = Field(
        min_length=1, max_length=50, description='{"alert": false, "social:3": true}'
    )


class PolicyIn(In):
    policy: Literal["automatic", "approval", "manual"]


class PolicyOut(Out):
    slug: str
    desk_policy: str


def _view(session: Session, decision: DeskDecision) -> DecisionOut:
    return DecisionOut.model_validate(social_desk.view(session, decision))


def _found(session: Session, item_id: int) -> None:
    if desk.decision_of(session, item_id) is None:
        raise NotFoundError(f"item {item_id} is not on the desk")


@router.get("", summary="Decisions, newest first (by default only those awaiting staff)")
def decisions(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    awaiting: Annotated[
        bool, Query(description="Only what awaits staff (pending, manual).")
    ] = True,
) -> Page[DecisionOut]:
    found = desk.decisions(
        session, awaiting=awaiting, limit=limit + 1, before_id=read_cursor(cursor)
    )
    return page([_view(session, d) for d in found], [d.id for d in found], limit)


@router.get("/{item_id:int}", summary="The decision about one item")
def decision(item_id: Id, caller: Caller = needs(), session: Session = SessionDep) -> DecisionOut:
    _found(session, item_id)
    found = desk.decision_of(session, item_id)
    assert found is not None
    return _view(session, found)


@router.post("/{item_id:int}/approve", summary="Release every channel (or only those given)")
def approve(
    item_id: Id,
    body: ApproveIn | None = None,
    caller: Caller = needs(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> DecisionOut:
    _found(session, item_id)
    only = list(body.only) if body and body.only else None
    return _view(session, social_desk.approve(session, item_id, only))


@router.post("/{item_id:int}/hold", summary="Stop every channel (cancels waiting posts)")
def hold(
    item_id: Id, caller: Caller = needs(Permission.SOCIAL_APPROVE), session: Session = SessionDep
) -> DecisionOut:
    _found(session, item_id)
    return _view(session, social_desk.hold(session, item_id))


@router.post("/{item_id:int}/channels", summary="Switch channels on (released) or off")
def channels(
    item_id: Id,
    body: ChannelsIn,
    caller: Caller = needs(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> DecisionOut:
    _found(session, item_id)
    decision = None
    for name, on in body.channels.items():
        decision = social_desk.set_channel(session, item_id, name, on)
    assert decision is not None
    return _view(session, decision)


@router.put("/policies/{slug}", summary="A topic's desk policy, for its items from now on")
def policy(
    slug: Annotated[str, Path(max_length=64)],
    body: PolicyIn,
    caller: Caller = needs(Permission.CONTENT),
    session: Session = SessionDep,
) -> PolicyOut:
    topic = desk.set_policy(session, slug, body.policy)
    return PolicyOut(slug=topic.slug, desk_policy=topic.desk_policy)
