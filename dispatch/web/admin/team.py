"""The team, for owners: who has a staff account and with which role; inviting someone
(they get a one-time link to choose their password, as with `dispatch staff add`), changing
a role, disabling an account, sending a new link, and closing someone's sessions.

The last active owner can be neither demoted nor disabled (`dispatch.staff.accounts`): the
page says so in plain words instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dispatch.doorbell import ring_after_commit
from dispatch.staff import accounts, mail, sessions
from dispatch.staff.models import ROLES, StaffUser
from dispatch.staff.roles import Permission
from dispatch.web.admin import present
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.lists import PostedDep, back, notice, text, when, words
from dispatch.web.admin.render import message, render
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()

NOTICES = {
    "invited": "The invitation is sent: the link works once, for a limited time.",
    "role": "The role is changed; their sessions ended, they log in again.",
    "disabled": "The account is disabled: its sessions ended and its API tokens stopped.",
    "enabled": "The account is enabled again.",
    "link": "A new link is sent: it works once, for a limited time.",
    "ended": "That session is closed.",
}
LAST_OWNER = (
    "%(email)s is the last active owner: make someone else owner first, so that somebody can "
    "always manage the team."
)


def _role_choices(staff: Staff) -> list[tuple[str, str]]:
    return [(role, words(staff, role)) for role in ROLES]


@router.get("/staff", response_class=HTMLResponse)
def team_page(
    request: Request, staff: Staff = page(Permission.STAFF), session: Session = SessionDep
) -> HTMLResponse:
    return _list(request, staff, session)


def _list(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    zone = settings_of(request).app.timezone
    rows = [
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": words(staff, user.role),
            "state": words(staff, _state(user)),
            "two_factor": user.totp_enabled_at is not None,
            "last_login": when(staff, user.last_login_at, zone),
        }
        for user in accounts.list_staff(session)
    ]
    return render(
        request,
        "admin/team.html",
        staff=staff,
        title="Staff",
        status_code=400 if errors else 200,
        rows=rows,
        roles=_role_choices(staff),
        values=values or {"email": "", "name": "", "role": "editor", "language": "fr"},
        errors=errors or {},
        notice=notice(request, staff, NOTICES),
    )


def _state(user: StaffUser) -> str:
    if not user.active:
        return "disabled"
    return "active" if user.password_hash else "invited (no password yet)"


@router.post("/staff", response_model=None)
def invite(
    request: Request,
    staff: Staff = form(Permission.STAFF),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    values = {k: text(fields, k) for k in ("email", "name", "role", "language")}
    errors: dict[str, str] = {}
    if values["role"] not in ROLES:
        errors["role"] = words(staff, "Choose a role.")
    if values["language"] not in accounts.LANGUAGES:
        errors["language"] = words(staff, "Choose a language.")
    if not errors:
        try:
            with session.begin_nested():
                user = accounts.add_staff(
                    session,
                    email=values["email"],
                    role=values["role"],
                    name=values["name"],
                    language=values["language"],
                )
                link = accounts.create_link(session, settings_of(request), user, "invite")
        except accounts.StaffError as error:
            key = "email"
            if "already has" in str(error):
                errors[key] = words(staff, "This address already has a staff account.")
            else:
                errors[key] = words(staff, "Enter a valid email address, like name@example.org.")
    if errors:
        return _list(request, staff, session, values=values, errors=errors)
    ring_after_commit(session, mail.TASK, link.id)
    return back(f"/admin/staff/{user.id}", "invited")


def _person_page(
    request: Request,
    staff: Staff,
    session: Session,
    user: StaffUser,
    *,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    zone = settings_of(request).app.timezone
    open_rows = [
        {
            "id": row.id,
            "since": when(staff, row.created_at, zone),
            "seen": when(staff, row.last_seen_at, zone),
            "agent": present.browser(row.user_agent),
            "ip": row.ip or "",
            "current": row.id == staff.row.id,
        }
        for row in sessions.open_sessions(session, user.id)
    ]
    return render(
        request,
        "admin/person.html",
        staff=staff,
        title=user.name or user.email,
        status_code=400 if errors else 200,
        person=user,
        role=words(staff, user.role),
        state=words(staff, _state(user)),
        created=when(staff, user.created_at, zone),
        last_login=when(staff, user.last_login_at, zone),
        roles=_role_choices(staff),
        sessions=open_rows,
        errors=errors or {},
        notice=notice(request, staff, NOTICES),
    )


def _person(session: Session, staff_id: int) -> StaffUser | None:
    return session.get(StaffUser, staff_id)


def _missing(request: Request, staff: Staff) -> HTMLResponse:
    return message(
        request,
        staff=staff,
        title="Page not found",
        paragraphs=["There is nothing at this address."],
        status_code=404,
        link=("/admin/staff", "Back to the team"),
    )


@router.get("/staff/{staff_id:int}", response_class=HTMLResponse)
def person_page(
    staff_id: int,
    request: Request,
    staff: Staff = page(Permission.STAFF),
    session: Session = SessionDep,
) -> HTMLResponse:
    user = _person(session, staff_id)
    if user is None:
        return _missing(request, staff)
    return _person_page(request, staff, session, user)


def _refusal(staff: Staff, user: StaffUser, error: accounts.StaffError) -> dict[str, str]:
    if "last active owner" in str(error):
        return {"account": words(staff, LAST_OWNER, email=user.email)}
    return {"account": str(error)}


@router.post("/staff/{staff_id:int}/role", response_model=None)
def change_role(
    staff_id: int,
    request: Request,
    staff: Staff = form(Permission.STAFF),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    user = _person(session, staff_id)
    if user is None:
        return _missing(request, staff)
    role = text(fields, "role")
    if role not in ROLES:
        return _person_page(
            request, staff, session, user, errors={"role": words(staff, "Choose a role.")}
        )
    try:
        accounts.set_role(session, user, role)
    except accounts.StaffError as error:
        return _person_page(request, staff, session, user, errors=_refusal(staff, user, error))
    return back(f"/admin/staff/{staff_id}", "role")


@router.post("/staff/{staff_id:int}/active", response_model=None)
def change_active(
    staff_id: int,
    request: Request,
    staff: Staff = form(Permission.STAFF),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    user = _person(session, staff_id)
    if user is None:
        return _missing(request, staff)
    active = text(fields, "active") == "1"
    try:
        accounts.set_active(session, user, active)
    except accounts.StaffError as error:
        return _person_page(request, staff, session, user, errors=_refusal(staff, user, error))
    return back(f"/admin/staff/{staff_id}", "enabled" if active else "disabled")


@router.post("/staff/{staff_id:int}/link", response_model=None)
def send_link(
    staff_id: int,
    request: Request,
    staff: Staff = form(Permission.STAFF),
    session: Session = SessionDep,
) -> Response:
    user = _person(session, staff_id)
    if user is None:
        return _missing(request, staff)
    try:
        link = accounts.reset_link(session, settings_of(request), user)
    except accounts.StaffError:
        errors = {"account": words(staff, "A disabled account gets no link: enable it first.")}
        return _person_page(request, staff, session, user, errors=errors)
    ring_after_commit(session, mail.TASK, link.id)
    return back(f"/admin/staff/{staff_id}", "link")


@router.post("/staff/{staff_id:int}/sessions/{session_id:int}/end", response_model=None)
def end_session(
    staff_id: int,
    session_id: int,
    request: Request,
    staff: Staff = form(Permission.STAFF),
    session: Session = SessionDep,
) -> Response:
    user = _person(session, staff_id)
    if user is None:
        return _missing(request, staff)
    accounts.end_session(session, user, session_id)
    return back(f"/admin/staff/{staff_id}#sessions", "ended")
