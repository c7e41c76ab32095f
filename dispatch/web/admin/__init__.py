"""Staff pages under /admin: logging in, the staff home, editions, one's own account.

Every page but the login and password ones declares `page(permission)` or
`form(permission)` (`dispatch.web.admin.guard`): the one check of who may do what.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from dispatch.staff.roles import ForbiddenError
from dispatch.web.admin import (
    account,
    audit,
    bounces,
    compose,
    dashboard,
    desk,
    editions,
    imports,
    items,
    login,
    sending,
    social,
    sources,
    subscribers,
    team,
    topics,
)
from dispatch.web.admin.guard import CsrfError, LoginRequiredError
from dispatch.web.admin.render import message

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin")
router.include_router(login.router)
router.include_router(account.router)
router.include_router(dashboard.router)
router.include_router(editions.router)
router.include_router(compose.router)
router.include_router(sending.router)
router.include_router(items.router)
router.include_router(sources.router)
router.include_router(topics.router)
router.include_router(bounces.router)
router.include_router(audit.router)
router.include_router(team.router)
router.include_router(imports.router)
router.include_router(subscribers.router)
router.include_router(social.router)
router.include_router(desk.router)


def not_found(request: Request, status_code: int = 404) -> HTMLResponse:
    """A staff address with nothing behind it: a page in the staff style, not JSON."""
    if status_code == 404:
        title, paragraph = "Page not found", "There is nothing at this address."
    else:
        title, paragraph = "There is a problem", "This address cannot be used this way."
    return message(
        request,
        staff=None,
        title=title,
        paragraphs=[paragraph],
        status_code=status_code,
        link=("/admin/", "Back to the staff home"),
    )


def server_error(request: Request) -> Response:
    """Something broke: staff get a page saying so in their style; others the plain text
    Starlette would have sent."""
    if not request.url.path.startswith("/admin"):
        return PlainTextResponse("Internal Server Error", status_code=500)
    try:
        return message(
            request,
            staff=None,
            title="Something went wrong",
            paragraphs=[
                "dispatch could not do this. Nothing was sent. Try again in a moment; if it "
                "happens again, tell whoever runs dispatch the time it happened."
            ],
            status_code=500,
            link=("/admin/", "Back to the staff home"),
        )
    except Exception:  # the page itself cannot be built: say it plainly
        log.exception("the staff error page failed")
        return PlainTextResponse("Internal Server Error", status_code=500)


def install(app: FastAPI) -> None:
    """The staff pages and what they answer when the check says no."""
    app.include_router(router)

    @app.exception_handler(Exception)
    def _broken(request: Request, error: Exception) -> Response:
        return server_error(request)

    @app.exception_handler(LoginRequiredError)
    def _to_login(request: Request, error: LoginRequiredError) -> Response:
        return RedirectResponse(
            f"/admin/login?next={quote(error.next_path, safe='/')}",
            status_code=303,
            headers={"Cache-Control": "no-store"},
        )

    @app.exception_handler(ForbiddenError)
    def _forbidden(request: Request, error: ForbiddenError) -> Response:
        return message(
            request,
            staff=None,
            title="Not allowed",
            paragraphs=["Your role does not allow this. Ask an owner of dispatch if you need it."],
            status_code=403,
            link=("/admin/", "Back to the staff home"),
        )

    @app.exception_handler(CsrfError)
    def _stale_form(request: Request, error: CsrfError) -> Response:
        return message(
            request,
            staff=None,
            title="There is a problem",
            paragraphs=["This form has expired. Please send it again."],
            status_code=400,
            link=("/admin/", "Back to the staff home"),
        )
