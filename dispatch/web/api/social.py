"""Social accounts and posts: the approval queue, editing, scheduling, publishing."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from dispatch.db import utcnow
from dispatch.doorbell import ring_after_commit
from dispatch.social import service
from dispatch.staff.roles import Permission
from dispatch.web.api import schemas
from dispatch.web.api.auth import Caller, needs
from dispatch.web.api.paging import Cursor, Id, Limit, Page, QueryId, page, read_cursor
from dispatch.web.api.problems import RESPONSES, NotFoundError
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter(prefix="/social", tags=["social"], responses=RESPONSES)
PostStatus = Literal[
    "draft", "awaiting_approval", "scheduled", "publishing", "published", "failed", "cancelled"
]


def _post(session: Session, post_id: int) -> schemas.PostOut:
    try:
        post = service.get_post(session, post_id)
    except service.SocialError as error:
        raise NotFoundError(str(error)) from error
    return schemas.PostOut.model_validate(service.post_as_dict(post))


@router.get("/accounts", summary="Social accounts (never their credentials)")
def accounts(
    request: Request, caller: Caller = needs(), session: Session = SessionDep
) -> list[schemas.AccountOut]:
    settings = settings_of(request)
    return [
        schemas.AccountOut.model_validate(service.account_as_dict(a, settings))
        for a in service.list_accounts(session)
    ]


@router.get("/posts", summary="Posts, newest first")
def posts(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[PostStatus | None, Query()] = None,
    account_id: QueryId | None = None,
) -> Page[schemas.PostOut]:
    found = service.list_posts(
        session,
        status=status,
        account_id=account_id,
        limit=limit + 1,
        before_id=read_cursor(cursor),
    )
    rows = [schemas.PostOut.model_validate(service.post_as_dict(p)) for p in found]
    return page(rows, [p.id for p in found], limit)


@router.get("/posts/{post_id:int}", summary="One post")
def get_post(
    post_id: Id, caller: Caller = needs(), session: Session = SessionDep
) -> schemas.PostOut:
    return _post(session, post_id)


@router.patch("/posts/{post_id:int}", summary="Replace a post's text (refused if too long)")
def edit_post(
    post_id: Id,
    body: schemas.PostPatch,
    request: Request,
    caller: Caller = needs(Permission.SOCIAL_PREPARE),
    session: Session = SessionDep,
) -> schemas.PostOut:
    _post(session, post_id)
    service.edit_post(session, post_id, body.text, settings_of(request))
    return _post(session, post_id)


@router.post("/posts/{post_id:int}/approve", summary="Approve: it goes out at its time, or now")
def approve(
    post_id: Id, caller: Caller = needs(Permission.SOCIAL_APPROVE), session: Session = SessionDep
) -> schemas.PostOut:
    _post(session, post_id)
    service.approve_post(session, post_id)
    return _post(session, post_id)


@router.post("/posts/{post_id:int}/schedule", summary="Publish at a given time (approves it)")
def schedule(
    post_id: Id,
    body: schemas.PostScheduleIn,
    caller: Caller = needs(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> schemas.PostOut:
    _post(session, post_id)
    service.schedule_post(session, post_id, at=body.at)
    return _post(session, post_id)


@router.post("/posts/{post_id:int}/cancel", summary="Cancel a post that has not gone out")
def cancel(
    post_id: Id, caller: Caller = needs(Permission.SOCIAL_APPROVE), session: Session = SessionDep
) -> schemas.PostOut:
    _post(session, post_id)
    service.cancel_post(session, post_id)
    return _post(session, post_id)


@router.post(
    "/posts/{post_id:int}/publish", status_code=202, summary="Publish now (a worker posts it)"
)
def publish(
    post_id: Id, caller: Caller = needs(Permission.SOCIAL_APPROVE), session: Session = SessionDep
) -> schemas.PostOut:
    """Approved for now and handed to a worker at once; the post's status tells the rest."""
    post = _post(session, post_id)
    if post.status != "scheduled" or post.scheduled_at is None:
        service.approve_post(session, post_id)
    else:
        service.get_post(session, post_id).scheduled_at = utcnow()
        session.flush()
    ring_after_commit(session, "social.publish_post", post_id)
    return _post(session, post_id)
