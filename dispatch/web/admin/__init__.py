"""Staff pages under /admin: logging in, the staff home, editions, one's own account.

Every page but the login and password ones declares `page(permission)` or
`form(permission)` (`dispatch.web.admin.guard`): the one check of who may do what.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatch.staff.roles import ForbiddenError
from dispatch.web.admin import (
    account,
    audit,
    bounces,
    desk,
    editions,
    imports,
    items,
    login,
    social,
    sources,
    subscribers,
    team,
    topics,
)
from dispatch.web.admin.guard import CsrfError, LoginRequiredError, Staff, page
from dispatch.web.admin.render import message, render
from dispatch.web.admin.words import translate

router = APIRouter(prefix="/admin")
router.include_router(login.router)
router.include_router(account.router)
router.include_router(editions.router)
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


@router.get("/", response_class=HTMLResponse)
def home(request: Request, staff: Staff = page()) -> HTMLResponse:
    return render(
        request,
        "admin/home.html",
        staff=staff,
        title="Home",
        role_label=translate(staff.user.language, staff.user.role),
    )


def install(app: FastAPI) -> None:
    """The staff pages and what they answer when the check says no."""
    app.include_router(router)

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
