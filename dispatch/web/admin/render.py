"""Rendering a staff page: the staff member's language, their menu, strict headers.

Every staff page is `no-store`, never framed, and runs no inline script (pages with live
parts load dispatch's own static scripts, under the "staff-live" policy of
`dispatch.web.headers`, and work without them); the one inline style (the
branding colour) carries a per-response nonce that the Content-Security-Policy names
(`dispatch.web.headers.allow_style_nonce`).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from dispatch.editions.templating import readable_on
from dispatch.staff.roles import Permission, may
from dispatch.web import csrf
from dispatch.web.admin.guard import Staff
from dispatch.web.admin.words import plural, translate
from dispatch.web.deps import settings_of
from dispatch.web.headers import allow_style_nonce
from dispatch.web.i18n_web import negotiate, normalise

#: The staff menu: (path, label, what one needs to see it).
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/admin/", "Home", Permission.READ),
    ("/admin/desk", "Desk", Permission.READ),
    ("/admin/items", "Items", Permission.READ),
    ("/admin/editions", "Editions", Permission.READ),
    ("/admin/social", "Social", Permission.READ),
    ("/admin/subscribers", "Subscribers", Permission.READ),
    ("/admin/sources", "Sources", Permission.READ),
    ("/admin/topics", "Topics", Permission.READ),
    ("/admin/bounces", "Bounces", Permission.READ),
    ("/admin/audit", "Audit", Permission.READ),
    ("/admin/staff", "Staff", Permission.STAFF),
    ("/admin/account", "Your account", Permission.READ),
)


#: Security headers (the policy naming the nonce) come from `dispatch.web.headers`.
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}


def staff_locale(request: Request, staff: Staff | None) -> str:
    if staff is not None:
        return staff.user.language if staff.user.language in ("fr", "en") else "fr"
    return normalise(request.query_params.get("lang")) or negotiate(
        request.headers.get("accept-language")
    )


def render(
    request: Request,
    template: str,
    *,
    staff: Staff | None,
    title: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A staff page; before login (no `staff`), forms carry the public double-submit token."""
    settings = settings_of(request)
    locale = staff_locale(request, staff)
    nonce = secrets.token_urlsafe(16)
    allow_style_nonce(request, nonce)
    cookie = None
    if staff is not None:
        token = staff.csrf
        nav = [
            (path, translate(locale, label))
            for path, label, needed in NAV
            if may(staff.actor, needed)
        ]
    else:
        cookie = csrf.cookie_for(request)
        token = csrf.form_token(settings, cookie)
        nav = []
    values: dict[str, Any] = {
        "_": lambda msgid: translate(locale, msgid),
        "_n": lambda one, other, count: plural(locale, one, other, count),
        "lang": locale,
        "page_title": translate(locale, title),
        "org_name": settings.branding.org_name,
        "brand_colour": readable_on("#ffffff", settings.branding.primary_colour),
        "style_nonce": nonce,
        "staff": staff.user if staff else None,
        "csrf_token": token,
        "nav": nav,
        "current_path": request.url.path,
        "notice": None,
        "errors": {},
        **context,
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=PAGE_HEADERS
    )
    if cookie is not None:
        csrf.set_cookie(response, cookie, secure=settings.app.base_url.startswith("https://"))
    return response


def message(
    request: Request,
    *,
    staff: Staff | None,
    title: str,
    paragraphs: list[str],
    status_code: int = 200,
    link: tuple[str, str] | None = None,
) -> HTMLResponse:
    """A page that only says something (403, 404, done)."""
    locale = staff_locale(request, staff)
    return render(
        request,
        "admin/message.html",
        staff=staff,
        title=title,
        status_code=status_code,
        paragraphs=[translate(locale, p) for p in paragraphs],
        link_url=link[0] if link else None,
        link_label=translate(locale, link[1]) if link else None,
    )
