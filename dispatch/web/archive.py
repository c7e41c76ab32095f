"""The public archive: sent newsletters readable online, with no reader's personal links,
and their Atom feed (`/archive/feed.xml`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.editions.compose import CompositionError, personalise
from dispatch.editions.models import Edition
from dispatch.editions.plaintext import html_to_text
from dispatch.editions.service import (
    archive_url,
    compile_for_archive,
    edition_language,
    edition_texts,
    intro_html,
)
from dispatch.editions.views import RecipientView
from dispatch.i18n import format_date, french_spacing
from dispatch.web.deps import SessionDep
from dispatch.web.headers import use_policy
from dispatch.web.i18n_web import translate
from dispatch.web.pages import page, visitor_locale

router = APIRouter()
PUBLIC_STATUSES = ("sending", "sent")
_FEED_SIZE = 50
_ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Online versions, compiled once per (edition, language) and kept while the edition is
# unchanged: a shared link to the archive must not compile MJML on every visit.
_pages: dict[tuple[int, str], tuple[datetime | None, str]] = {}
_pages_lock = threading.Lock()
_MAX_PAGES = 32


def _public(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None or edition.kind != "newsletter" or edition.status not in PUBLIC_STATUSES:
        raise HTTPException(status_code=404)
    return edition


def _letters(session: Session, limit: int) -> list[Edition]:
    """Sent (or being sent) newsletters, newest first: never alerts, digests or drafts."""
    return list(
        session.scalars(
            select(Edition)
            .where(Edition.kind == "newsletter", Edition.status.in_(PUBLIC_STATUSES))
            .order_by(Edition.started_at.desc().nulls_last(), Edition.id.desc())
            .limit(limit)
        )
    )


def _shown_in(edition: Edition, locale: str, settings: Settings) -> tuple[str, str, str]:
    """The language `edition` reads in for a `locale` visitor, with its subject and intro."""
    default = settings.app.default_locale
    language = edition_language(edition, locale, default_locale=default)
    subject, _, intro = edition_texts(edition, language, default_locale=default)
    return language, french_spacing(subject) if language == "fr" else subject, intro


def _base(request: Request, settings: Settings) -> str:
    return (settings.app.base_url or str(request.base_url)).rstrip("/")


@router.get("/archive", response_class=HTMLResponse)
def archive_index(request: Request, session: Session = SessionDep) -> HTMLResponse:
    locale = visitor_locale(request)
    settings = request.app.state.settings
    rows = []
    for edition in _letters(session, 200):
        language, subject, _ = _shown_in(edition, locale, settings)
        rows.append(
            {
                "id": edition.id,
                "subject": subject,
                "lang": language,
                "date": format_date(edition.started_at or edition.created_at, locale),
            }
        )
    return page(
        request,
        "public/archive.html",
        locale=locale,
        title="Past newsletters",
        with_form=False,
        switch_language=True,
        editions=rows,
        feed_url=f"/archive/feed.xml?lang={locale}",
    )


def _stamp(value: datetime) -> str:
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@router.get("/archive/feed.xml", summary="Atom feed of the newsletters sent")
def archive_feed(request: Request, session: Session = SessionDep) -> Response:
    """Atom (RFC 4287): one entry per newsletter sent, newest first, linking to its online
    version in the visitor's language (or the letter's own, when it has none in theirs)."""
    locale = visitor_locale(request)
    settings = request.app.state.settings
    base = _base(request, settings)
    letters = _letters(session, _FEED_SIZE)
    ET.register_namespace("", _ATOM)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{_ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{_ATOM}}}feed", {_XML_LANG: locale})
    org = settings.branding.org_name
    add(feed, "id", f"{base}/archive/feed.xml")
    add(feed, "title", f"{translate(locale, 'Past newsletters')} – {org}")
    times = [e.finished_at or e.started_at or e.created_at for e in letters]
    add(feed, "updated", _stamp(max(times) if times else utcnow()))
    add(add(feed, "author"), "name", org)
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/archive/feed.xml")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base}/archive?lang={locale}")
    for edition, updated in zip(letters, times, strict=True):
        language, subject, intro = _shown_in(edition, locale, settings)
        entry = add(feed, "entry", **{_XML_LANG: language})
        add(entry, "id", f"{base}/archive/{edition.id}")
        add(entry, "title", subject)
        add(entry, "updated", _stamp(updated))
        add(entry, "published", _stamp(edition.started_at or edition.created_at))
        link = archive_url(base, edition.id, language)
        add(entry, "link", rel="alternate", type="text/html", href=link, hreflang=language)
        summary = html_to_text(intro_html(intro))
        if summary:
            add(entry, "summary", summary)
    body = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>\n' + body,
        media_type="application/atom+xml; charset=utf-8",
    )


def _online_version(session: Session, edition: Edition, settings: Settings, lang: str) -> str:
    key = (edition.id, lang)
    with _pages_lock:
        found = _pages.get(key)
    if found is not None and found[0] == edition.updated_at:
        return found[1]
    compiled = compile_for_archive(session, edition, settings, locale=lang)
    reader = RecipientView(email="", locale=compiled.edition.locale)
    html = personalise(compiled, reader).html
    with _pages_lock:
        if len(_pages) >= _MAX_PAGES:
            _pages.pop(next(iter(_pages)))
        _pages[key] = (edition.updated_at, html)
    return html


# The email as sent has inline styles: the "email" policy (no script, no form, no framing).
@router.get(
    "/archive/{edition_id}", response_class=HTMLResponse, dependencies=[use_policy("email")]
)
def archive_edition(
    edition_id: int, request: Request, session: Session = SessionDep
) -> HTMLResponse:
    """The newsletter as sent, in its archive variant: no greeting, no reader's address or
    personal links, a link to subscribe in their place."""
    settings = request.app.state.settings
    edition = _public(session, edition_id)
    try:
        html = _online_version(session, edition, settings, visitor_locale(request))
    except CompositionError as exc:
        raise HTTPException(status_code=404) from exc
    return HTMLResponse(html)
