"""Errors as RFC 9457 problem details (`application/problem+json`), one shape for all.

A domain's own error (a draft that cannot be made, an edition that cannot be scheduled, a
social post that cannot be approved) carries the sentence staff read in the CLI and the back
office; the API passes it on as `detail`, with the status that says what kind of no it is.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from dispatch.audience.addresses import InvalidInputError
from dispatch.audience.service import NotSubscribedError, SuppressedAddressError
from dispatch.content.errors import ContentError
from dispatch.delivery.bounces.held import HeldReportError
from dispatch.editions.errors import DraftError, EditionStateError
from dispatch.social.service import SocialError
from dispatch.staff.accounts import StaffError
from dispatch.staff.roles import ForbiddenError

MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


class NotFoundError(Exception):
    """The object the path names does not exist."""


class UnauthenticatedError(Exception):
    """No valid token and no staff session."""


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, **extra).model_dump(exclude_none=True)
    headers = {"Cache-Control": "no-store", **(headers or {})}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dispatch"'
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


#: What each kind of refusal means for a client.
_STATUS: list[tuple[type[Exception], int, str]] = [
    (NotFoundError, 404, "Not found"),
    (EditionStateError, 409, "Not possible in this state"),
    (HeldReportError, 409, "Not possible in this state"),
    (NotSubscribedError, 409, "Not possible in this state"),
    (SuppressedAddressError, 409, "Address suppressed"),
    (DraftError, 422, "Cannot be done as asked"),
    (ContentError, 422, "Cannot be done as asked"),
    (SocialError, 422, "Cannot be done as asked"),
    (StaffError, 422, "Cannot be done as asked"),
    (InvalidInputError, 422, "Invalid input"),
]

#: The responses every operation may give, for the OpenAPI document.
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": title}
    for code, title in (
        (400, "Bad request"),
        (401, "No valid token or session"),
        (403, "Not allowed for this role or token scope"),
        (404, "Not found"),
        (409, "Not possible in this state"),
        (422, "Invalid input, or cannot be done as asked"),
    )
}


def from_http_exception(
    error: HTTPException, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The framework's own refusals (404, 405, 413…) as problems, its headers kept."""
    try:
        title = HTTPStatus(error.status_code).phrase
    except ValueError:
        title = "Error"
    merged = {**(error.headers or {}), **(headers or {})}
    return problem(error.status_code, title, str(error.detail), headers=merged)


def _allowed(api: FastAPI, request: Request) -> str:
    """Every method the path takes. The router only names the methods of the first route
    that matched the path, and one path has a route per method."""
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    methods: set[str] = set()
    for template, operations in api.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", r"\\d+", template), path):
            methods.update(method.upper() for method in operations)
    return ", ".join(sorted(methods))


def install(api: FastAPI) -> None:
    @api.exception_handler(RequestValidationError)
    def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in error.errors()
        ]
        return problem(
            422, "Invalid input", "The request does not match the schema.", errors=errors
        )

    @api.exception_handler(HTTPException)
    def _http(request: Request, error: HTTPException) -> JSONResponse:
        allow = {"Allow": _allowed(api, request)} if error.status_code == 405 else {}
        return from_http_exception(error, allow)

    @api.exception_handler(UnauthenticatedError)
    def _unauthenticated(request: Request, error: UnauthenticatedError) -> JSONResponse:
        return problem(401, "No valid token or session", str(error))

    @api.exception_handler(ForbiddenError)
    def _forbidden(request: Request, error: ForbiddenError) -> JSONResponse:
        return problem(403, "Not allowed", str(error))

    for kind, status, title in _STATUS:

        def handler(
            request: Request, error: Exception, status: int = status, title: str = title
        ) -> JSONResponse:
            detail = (
                f"{error.field}: {error}" if isinstance(error, InvalidInputError) else str(error)
            )
            return problem(status, title, detail)

        api.add_exception_handler(kind, handler)
