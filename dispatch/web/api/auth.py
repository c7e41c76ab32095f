"""Who calls the API: a bearer token (`Authorization: Bearer dsp_…`), or the back office's
own calls with the staff session cookie and its CSRF token in `X-CSRF-Token`.

`needs(permission)` is the one check every route declares: the caller's role, narrowed by
the token's scope, must allow it. The caller becomes the actor of the request's unit of work,
so the services audit in their name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from dispatch.audit import Actor, acting
from dispatch.staff import sessions, tokens
from dispatch.staff.models import ApiToken, StaffUser
from dispatch.staff.roles import Permission, actor_for, require
from dispatch.web.api.problems import UnauthenticatedError
from dispatch.web.deps import SessionDep, client_ip, settings_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
# Declared so the OpenAPI document says how to authenticate; the checks are `_caller`'s.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `dispatch staff token create EMAIL --name NAME`.",
)
_cookie = APIKeyCookie(
    name=sessions.COOKIE_NAME,
    auto_error=False,
    scheme_name="session",
    description=f"The back office's session; writes also send `{CSRF_HEADER}`.",
)


@dataclass(frozen=True)
class Caller:
    user: StaffUser
    actor: Actor
    token: ApiToken | None


def _caller(request: Request, session: Session, bearer: str | None) -> Caller:
    ip = client_ip(request)
    if bearer is not None:
        token = tokens.authenticate(session, bearer.strip())
        if token is None:
            raise UnauthenticatedError("This token is unknown, revoked or expired.")
        return Caller(token.user, actor_for(token.user, via="api", ip=ip, scope=token.scope), token)
    settings = settings_of(request)
    row = sessions.find_session(session, settings, request.cookies.get(sessions.COOKIE_NAME))
    if row is None or row.level != "full":
        raise UnauthenticatedError("Send a token as `Authorization: Bearer …`.")
    if request.method not in SAFE_METHODS and not sessions.csrf_valid(
        settings, row, request.headers.get(CSRF_HEADER)
    ):
        raise UnauthenticatedError(f"A call from the back office carries {CSRF_HEADER}.")
    return Caller(row.user, actor_for(row.user, via="web", ip=ip), None)


class _Needs:
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(
        self,
        request: Request,
        session: Session = SessionDep,
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
        _cookie: str | None = Security(_cookie),
    ) -> Caller:
        caller = _caller(request, session, bearer.credentials if bearer else None)
        require(caller.actor, self.permission)
        acting(session, caller.actor)
        return caller


def needs(permission: Permission = Permission.READ) -> Any:
    """`caller: Caller = needs(Permission.SEND)` in a route's parameters."""
    return Depends(_Needs(permission))
