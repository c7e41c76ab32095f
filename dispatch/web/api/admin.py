"""Bounces, the audit trail, and staff accounts (owners only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.delivery.bounces import handling, held
from dispatch.delivery.models import BounceEvent, HeldReport
from dispatch.doorbell import ring_after_commit
from dispatch.staff import accounts, mail, tokens, trail
from dispatch.staff.models import StaffUser
from dispatch.staff.roles import Permission
from dispatch.web.api import schemas
from dispatch.web.api.auth import Caller, needs
from dispatch.web.api.paging import Cursor, Id, Limit, Page, page, read_cursor
from dispatch.web.api.problems import RESPONSES, NotFoundError
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter(responses=RESPONSES)


@router.get("/bounces", tags=["bounces"], summary="Bounces and complaints, newest first")
def bounces(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.BounceOut]:
    query = select(BounceEvent).order_by(BounceEvent.id.desc()).limit(limit + 1)
    before = read_cursor(cursor)
    if before is not None:
        query = query.where(BounceEvent.id < before)
    found = list(session.scalars(query))
    return page([schemas.BounceOut.model_validate(b) for b in found], [b.id for b in found], limit)


@router.get("/bounces/held", tags=["bounces"], summary="Reports held for review, oldest first")
def held_reports(
    caller: Caller = needs(),
    session: Session = SessionDep,
    include_resolved: bool = False,
) -> list[schemas.HeldReportOut]:
    rows = held.list_held(session, include_resolved=include_resolved)
    return [schemas.HeldReportOut.model_validate(row) for row in rows]


@router.post(
    "/bounces/held/{held_id:int}/apply",
    tags=["bounces"],
    summary="Apply a held report as if proven: bounce or complaint for the addresses it names",
)
def apply_held(
    held_id: Id,
    request: Request,
    caller: Caller = needs(Permission.BOUNCES),
    session: Session = SessionDep,
) -> schemas.HeldReportOut:
    _held(session, held_id)
    row = handling.apply_held(session, settings_of(request), held_id)
    return schemas.HeldReportOut.model_validate(row)


@router.post(
    "/bounces/held/{held_id:int}/discard",
    tags=["bounces"],
    summary="Discard a held report: it changes nothing",
)
def discard_held(
    held_id: Id, caller: Caller = needs(Permission.BOUNCES), session: Session = SessionDep
) -> schemas.HeldReportOut:
    _held(session, held_id)
    return schemas.HeldReportOut.model_validate(held.discard(session, held_id))


def _held(session: Session, held_id: int) -> None:
    if session.get(HeldReport, held_id) is None:
        raise NotFoundError(f"no held report {held_id}")


@router.get("/health", tags=["health"], summary="Database, broker and worker heartbeats")
def health_details(
    request: Request, caller: Caller = needs(), session: Session = SessionDep
) -> schemas.HealthOut:
    from dispatch.web.health import report

    return schemas.HealthOut.model_validate(report(request.app, session).details)


@router.get("/audit", tags=["audit"], summary="Who did what, newest first")
def audit_trail(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    actor: Annotated[str | None, Query(max_length=320)] = None,
    object_type: Annotated[str | None, Query(max_length=40)] = None,
    object_id: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[schemas.AuditOut]:
    found = trail.events(
        session,
        limit=limit + 1,
        before_id=read_cursor(cursor),
        action=action,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
    )
    return page([schemas.AuditOut.model_validate(e) for e in found], [e.id for e in found], limit)


def _staff(session: Session, staff_id: int) -> StaffUser:
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFoundError(f"There is no staff account {staff_id}.")
    return user


@router.get("/staff", tags=["staff"], summary="Staff accounts (owners)")
def list_staff(
    caller: Caller = needs(Permission.STAFF), session: Session = SessionDep
) -> list[schemas.StaffOut]:
    return [
        schemas.StaffOut.model_validate(accounts.as_dict(u)) for u in accounts.list_staff(session)
    ]


@router.post("/staff", status_code=201, tags=["staff"], summary="Invite someone (owners)")
def invite(
    body: schemas.StaffIn,
    request: Request,
    caller: Caller = needs(Permission.STAFF),
    session: Session = SessionDep,
) -> schemas.InvitedOut:
    user = accounts.add_staff(
        session, email=body.email, role=body.role, name=body.name, language=body.language
    )
    link = accounts.create_link(session, settings_of(request), user, "invite")
    ring_after_commit(session, mail.TASK, link.id)
    return schemas.InvitedOut(
        staff=schemas.StaffOut.model_validate(accounts.as_dict(user)), link_sent=True
    )


@router.patch("/staff/{staff_id:int}", tags=["staff"], summary="Change a role, disable (owners)")
def change_staff(
    staff_id: Id,
    body: schemas.StaffPatch,
    caller: Caller = needs(Permission.STAFF),
    session: Session = SessionDep,
) -> schemas.StaffOut:
    user = _staff(session, staff_id)
    if body.role is not None:
        accounts.set_role(session, user, body.role)
    if body.active is not None:
        accounts.set_active(session, user, body.active)
    return schemas.StaffOut.model_validate(accounts.as_dict(user))


@router.post(
    "/staff/{staff_id:int}/reset", status_code=202, tags=["staff"], summary="Email a reset link"
)
def reset(
    staff_id: Id,
    request: Request,
    caller: Caller = needs(Permission.STAFF),
    session: Session = SessionDep,
) -> schemas.StaffOut:
    user = _staff(session, staff_id)
    link = accounts.create_link(session, settings_of(request), user, "reset")
    ring_after_commit(session, mail.TASK, link.id)
    return schemas.StaffOut.model_validate(accounts.as_dict(user))


@router.get("/staff/tokens", tags=["staff"], summary="API tokens (owners)")
def list_tokens(
    caller: Caller = needs(Permission.STAFF), session: Session = SessionDep
) -> list[schemas.TokenOut]:
    return [schemas.TokenOut.model_validate(tokens.as_dict(t)) for t in tokens.list_tokens(session)]


@router.delete("/staff/tokens/{token_id:int}", tags=["staff"], summary="Revoke an API token")
def revoke_token(
    token_id: Id, caller: Caller = needs(Permission.STAFF), session: Session = SessionDep
) -> schemas.TokenOut:
    try:
        row = tokens.revoke(session, token_id)
    except accounts.StaffError as error:
        raise NotFoundError(str(error)) from error
    return schemas.TokenOut.model_validate(tokens.as_dict(row))
