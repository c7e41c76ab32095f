"""Editions for staff: the list, and the preview of an edition as a reader receives it.

`GET /admin/editions/{id}/preview?width=375|600&locale=` shows an edition's compiled email as a
sample reader receives it, laid out as on a screen of that width.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dispatch.editions.models import Edition
from dispatch.staff.roles import Permission, may
from dispatch.web.admin.guard import Staff, page
from dispatch.web.admin.render import render
from dispatch.web.deps import SessionDep, settings_of
from dispatch.web.headers import use_policy

router = APIRouter()
EMAIL_POLICY = use_policy("email")
EMAIL_FRAMED = use_policy("email-framed")

WIDTHS = (375, 600)
LOCALES = ("fr", "en")
# Staff pages are never cached or indexed. The previewed email is staff-written content and
# third-party links, with inline styles: the preview chooses the "email" policy of
# `dispatch.web.headers` (no script, no form, no framing, no Referer).
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
_pages = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

_TOOLBAR = _pages.from_string(
    """<div role="region" aria-label="Preview" style="font:14px/1.4 system-ui,sans-serif;\
background:#222;color:#fff;padding:8px 12px;text-align:left">
<strong>Preview</strong> · edition {{ edition_id }} · {{ width }} px · {{ locale }}<br>
Subject: {{ subject }}<br>
{% for w in widths %}<a style="color:#9cf" href="{{ link(width=w) }}">{{ w }} px</a> ·
{% endfor %}{% for code in locales %}<a style="color:#9cf" href="{{ link(locale=code) }}">\
{{ code }}</a> · {% endfor %}
<a style="color:#9cf" href="{{ list_url }}">all editions</a>
</div>
"""
)

_MEDIA = re.compile(r"@media([^{]*)\{")
_MEDIA_ATTRIBUTE = re.compile(r"""\b(media)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_WIDTH_RULE = re.compile(r"\(\s*(min|max)-(?:device-)?width\s*:\s*(\d+)px\s*\)")
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def _problem(title: str, message: str, status_code: int) -> HTMLResponse:
    page = _pages.from_string(
        "<!doctype html><html lang=en><title>{{ title }}</title><h1>{{ title }}</h1>"
        "<p>{{ message }}</p>"
    )
    return _page(page.render(title=title, message=message), status_code)


def _media_holds(query: str, width: int) -> bool | None:
    """Whether a media query's width conditions hold at `width`; None if it has none."""
    if not _WIDTH_RULE.search(query):
        return None
    for alternative in (part for part in query.split(",") if part.strip()):
        if all(
            (width >= int(px)) if kind == "min" else (width <= int(px))
            for kind, px in _WIDTH_RULE.findall(alternative)
        ):
            return True
    return False


def fit_media_queries(html: str, width: int) -> str:
    """Evaluate the email's width media queries for a screen `width` pixels wide.

    A preview is shown inside a wider browser window; left alone, the desktop rules would
    apply to the narrow column too. Each ``@media`` rule and ``media="…"`` attribute whose
    width conditions hold for `width` becomes ``all``, the others ``not all``.
    """

    def rule(match: re.Match[str]) -> str:
        holds = _media_holds(match.group(1), width)
        return match.group(0) if holds is None else f"@media {'all' if holds else 'not all'} {{"

    def attribute(match: re.Match[str]) -> str:
        holds = _media_holds(match.group(2), width)
        if holds is None:
            return match.group(0)
        return f'{match.group(1)}="{"all" if holds else "not all"}"'

    return _MEDIA_ATTRIBUTE.sub(attribute, _MEDIA.sub(rule, html))


def frame_email(html: str, *, width: int, toolbar: str) -> str:
    """The email's own document, laid out `width` pixels wide, with the staff toolbar on top."""
    html = fit_media_queries(html, width)
    style = (
        "<style>html{background:#e4e4e4!important}"
        f"body{{width:{width}px!important;max-width:{width}px!important;"
        "margin:0 auto!important;overflow-x:hidden;background:#fff}</style>"
    )
    html = _HEAD_END.sub(lambda m: style + m.group(0), html, count=1)
    if _BODY.search(html):
        return _BODY.sub(lambda m: m.group(0) + toolbar, html, count=1)
    return toolbar + html


def _link(path: str, **params: Any) -> str:
    query = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(query)}" if query else path


@router.get("/editions", response_class=HTMLResponse)
def editions_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    """Every edition, newest first: its state, counts, when it goes, preview links."""
    from dispatch.delivery.ledger import rows_by_status
    from dispatch.editions import drafts
    from dispatch.web.admin.present import KIND_LABELS, badge, moment
    from dispatch.web.admin.render import staff_locale

    zone = settings_of(request).app.timezone
    locale = staff_locale(request, staff)
    rows = []
    for edition in drafts.list_editions(session, limit=200):
        row = drafts.edition_summary(edition)
        row["send_at"] = moment(edition.send_at, locale, zone)
        row["kind_label"] = KIND_LABELS.get(edition.kind, edition.kind)
        row["status_label"], row["badge_class"] = badge(edition.status)
        row["counts"] = rows_by_status(session, edition.id) if edition.started_at else None
        row["recipients"] = edition.recipients_total
        row["links"] = [
            (width, _link(f"/admin/editions/{edition.id}/preview", width=width)) for width in WIDTHS
        ]
        rows.append(row)
    return render(
        request,
        "admin/editions.html",
        staff=staff,
        title="Editions",
        rows=rows,
        may_draft=may(staff.actor, Permission.DRAFT),
    )


@router.get(
    "/editions/{edition_id}/frame", response_class=HTMLResponse, dependencies=[EMAIL_FRAMED]
)
def edition_frame(
    edition_id: int,
    request: Request,
    width: int = 600,
    locale: str | None = None,
    as_email: str | None = Query(None, alias="as", max_length=320),
    staff: Staff = page(),
    session: Session = SessionDep,
) -> HTMLResponse:
    """The compiled email alone, for the sandboxed frames of the edition's page."""
    from dispatch.delivery import proofs
    from dispatch.editions.errors import DraftError

    if width not in WIDTHS or (locale is not None and locale not in LOCALES):
        return _problem("Cannot preview", "width is 375 or 600; locale is fr or en.", 400)
    try:
        shown = proofs.preview(
            session, settings_of(request), edition_id, locale=locale, as_email=as_email or None
        )
    except DraftError as error:
        return _problem("Cannot preview", str(error), 404 if "exist" in str(error) else 400)
    return _page(frame_email(shown.rendered.html, width=width, toolbar=""))


@router.get(
    "/editions/{edition_id}/preview", response_class=HTMLResponse, dependencies=[EMAIL_POLICY]
)
def edition_preview(
    edition_id: int,
    request: Request,
    width: int = 600,
    locale: str | None = None,
    staff: Staff = page(),
    session: Session = SessionDep,
) -> HTMLResponse:
    """The compiled email at `width` px (375: a phone; 600: a desktop client)."""
    from dispatch.delivery import proofs
    from dispatch.editions.errors import DraftError

    if width not in WIDTHS:
        return _problem("Unknown width", "width is 375 or 600.", 400)
    if locale is not None and locale not in LOCALES:
        return _problem("Unknown language", "locale is fr or en.", 400)
    try:
        preview = proofs.preview(session, settings_of(request), edition_id, locale=locale)
    except DraftError as error:
        missing = session.get(Edition, edition_id) is None
        return _problem("Cannot preview", str(error), 404 if missing else 400)

    path = f"/admin/editions/{edition_id}/preview"

    def link(**change: Any) -> str:
        params = {"width": width, "locale": preview.locale, **change}
        return _link(path, **params)

    toolbar = _TOOLBAR.render(
        edition_id=edition_id,
        width=width,
        locale=preview.locale,
        subject=preview.subject,
        widths=WIDTHS,
        locales=LOCALES,
        link=link,
        list_url="/admin/editions",
    )
    return _page(frame_email(preview.rendered.html, width=width, toolbar=toolbar))
