"""Who is asking, on staff pages: the session cookie, the role check, the CSRF check.

`StaffPage(permission)` is the dependency every staff page declares: it finds the logged-in
person (or sends the browser to the login page), refuses what their role does not allow with
a 403 page, makes them the actor of the request's unit of work (so services audit in their
name), and on POST checks the form's CSRF token against the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dispatch.audit import Actor, acting
from dispatch.staff import sessions
from dispatch.staff.models import StaffSession, StaffUser
from dispatch.staff.roles import ForbiddenError, Permission, actor_for, require
from dispatch.web.deps import FormDep, SessionDep, client_ip, settings_of


class LoginRequiredError(Exception):
    """No live session: the browser goes to the login page, then back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfError(Exception):
    """A staff form without this session's token: not sent from dispatch's own page."""


@dataclass(frozen=True)
class Staff:
    """The logged-in person of a request, their session and what they act as."""

    user: StaffUser
    row: StaffSession
    actor: Actor
    csrf: str


def find_staff(request: Request, session: Session, *, level: str = "full") -> Staff | None:
    settings = settings_of(request)
    row = sessions.find_session(session, settings, request.cookies.get(sessions.COOKIE_NAME))
    if row is None or row.level != level:
        return None
    actor = actor_for(row.user, via="web", ip=client_ip(request))
    return Staff(row.user, row, actor, sessions.csrf_token(settings, row))


def _next_path(request: Request) -> str:
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


class StaffPage:
    """`Depends(StaffPage(Permission.SEND))`: a logged-in person allowed to do that."""

    def __init__(self, permission: Permission = Permission.READ) -> None:
        self.permission = permission

    def __call__(self, request: Request, session: Session = SessionDep) -> Staff:
        staff = find_staff(request, session)
        if staff is None:
            raise LoginRequiredError(_next_path(request))
        require(staff.actor, self.permission)
        acting(session, staff.actor)
        return staff


class StaffForm(StaffPage):
    """Like `StaffPage`, for a POST: the form must carry the session's CSRF token."""

    def __call__(
        self, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
    ) -> Staff:
        staff = super().__call__(request, session)
        if not sessions.csrf_valid(settings_of(request), staff.row, fields.get("csrf_token")):
            raise CsrfError
        return staff


def page(permission: Permission = Permission.READ) -> Any:
    """`staff: Staff = page(Permission.X)` in a route's parameters."""
    return Depends(StaffPage(permission))


def form(permission: Permission = Permission.READ) -> Any:
    """`staff: Staff = form(Permission.X)` in a POST route's parameters (checks CSRF too)."""
    return Depends(StaffForm(permission))


__all__ = ["CsrfError", "ForbiddenError", "LoginRequiredError", "Staff", "form", "page"]
