"""Composing a letter: the new-letter form, an edition's own page, saving a draft.

The form works without JavaScript: items are chosen with checkboxes and ordered with
position numbers or "up"/"down" buttons, and the intro's Markdown is previewed by a button;
each of those posts the form back and shows it again, unsaved, until "Save" is pressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.content import desk
from dispatch.content.models import ContentItem, Topic
from dispatch.db import utcnow
from dispatch.editions import choosing, drafts
from dispatch.editions.errors import DraftError
from dispatch.editions.models import Edition
from dispatch.editions.service import intro_html
from dispatch.staff.roles import Permission, may
from dispatch.web.admin import edition_page
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.render import render, staff_locale
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, settings_of
from dispatch.web.headers import use_policy

router = APIRouter()
LIVE = use_policy("staff-live")
#: Items offered to choose from: published this recently (plus those already chosen).
RECENT = timedelta(days=60)
OFFERED = 60
OTHER_LANGUAGES = ("en",)
_ITEM = re.compile(r"^item-(\d+)$")
_MOVE = re.compile(r"^(up|down)-(\d+)$")
#: Editions whose readers staff choose by topic on the page (an alert's or a digest's
#: readers come from their own rules).
TOPIC_KINDS = ("newsletter", "event")


@dataclass
class Draft:
    """What the form holds, saved or not."""

    subject: str = ""
    preheader: str = ""
    intro: str = ""
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    topics: list[str] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    send_whole: bool = False
    # Item id -> the title of the section it opens, per language.
    headings: dict[int, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, edition: Edition) -> Draft:
        stored = getattr(edition, "translations", None) or {}
        return cls(
            subject=edition.subject,
            preheader=edition.preheader,
            intro=edition.intro,
            translations={code: dict(stored.get(code) or {}) for code in OTHER_LANGUAGES},
            topics=list((edition.audience or {}).get("topics") or []),
            items=[link.item_id for link in sorted(edition.items, key=lambda x: x.position)],
            send_whole=edition.send_whole,
            headings={link.item_id: dict(link.heading) for link in edition.items if link.heading},
        )

    def other(self, code: str, name: str) -> str:
        return (self.translations.get(code) or {}).get(name, "")

    def heading(self, item_id: int, code: str = "fr") -> str:
        return (self.headings.get(item_id) or {}).get(code, "")

    def titled(self) -> dict[int, dict[str, str]]:
        """The section titles as drafts take them: English ones only with an English
        version (without one, English readers get the French letter whole)."""
        english = bool(translated(self).get("en"))
        return {
            item_id: {code: text for code, text in texts.items() if code == "fr" or english}
            for item_id, texts in self.headings.items()
            if item_id in self.items and texts.get("fr")
        }


def translated(draft: Draft) -> dict[str, dict[str, str]]:
    """The other languages as drafts store them: a translation exists when its subject is
    written (an English version without a subject is left out, not half kept)."""
    return {code: text for code, text in draft.translations.items() if text.get("subject")}


def read_form(fields: dict[str, str]) -> tuple[Draft, str | None]:
    """The draft as posted, items in their chosen order, and the action asked for."""
    chosen: list[tuple[float, int, int]] = []
    for key in fields:
        found = _ITEM.match(key)
        if not found:
            continue
        item_id = int(found.group(1))
        try:
            position = float(fields.get(f"pos-{item_id}") or "inf")
        except ValueError:
            position = float("inf")
        chosen.append((position, len(chosen), item_id))
    items = [item_id for _p, _n, item_id in sorted(chosen)]
    action = fields.get("action")
    move = _MOVE.match(fields.get("move", ""))
    if move:
        action = "move"
        item_id = int(move.group(2))
        if item_id in items:
            at = items.index(item_id)
            to = at - 1 if move.group(1) == "up" else at + 1
            if 0 <= to < len(items):
                items[at], items[to] = items[to], items[at]
    draft = Draft(
        subject=fields.get("subject", ""),
        preheader=fields.get("preheader", ""),
        intro=fields.get("intro", ""),
        translations={
            code: {
                name: fields.get(f"{name}_{code}", "") for name in ("subject", "preheader", "intro")
            }
            for code in OTHER_LANGUAGES
        },
        topics=[key[6:] for key in fields if key.startswith("topic-")],
        items=items,
        send_whole=fields.get("send_whole") == "on",
        headings={
            item_id: {
                code: text
                for code, name in (("fr", f"heading-{item_id}"), ("en", f"heading_en-{item_id}"))
                if (text := " ".join(fields.get(name, "").split()))
            }
            for item_id in items
            if fields.get(f"heading-{item_id}", "").strip()
            or fields.get(f"heading_en-{item_id}", "").strip()
        },
    )
    return draft, action


def check(draft: Draft) -> dict[str, str]:
    """Field -> what is wrong, in message ids the page translates."""
    errors: dict[str, str] = {}
    checks = (
        ("subject", drafts.check_subject, "Write a subject: one line, at most 200 characters."),
        (
            "preheader",
            drafts.check_preheader,
            "The preheader is one line of at most 200 characters.",
        ),
        ("intro", drafts.check_intro, "The intro is too long or cannot be read as Markdown."),
    )
    for name, checker, message in checks:
        try:
            checker(getattr(draft, name))
        except DraftError:
            errors[name] = message
    for code in OTHER_LANGUAGES:
        other = draft.translations.get(code) or {}
        if other.get("subject"):
            try:
                drafts.check_subject(other["subject"])
            except DraftError:
                errors[f"subject_{code}"] = "Write a subject: one line, at most 200 characters."
        elif any((other.get(name) or "").strip() for name in ("preheader", "intro")):
            errors[f"subject_{code}"] = (
                "Give the English version a subject, or empty its fields: English readers "
                "then get the French letter."
            )
    english = bool(translated(draft).get("en"))
    for texts in draft.headings.values():
        if any(len(text) > drafts.MAX_HEADING for text in texts.values()):
            errors["items"] = "A section title is at most 120 characters long."
        elif not texts.get("fr"):
            errors["items"] = "A section has an English title but no French one."
        elif english and not texts.get("en"):
            errors["items"] = (
                "Give each section an English title too: English readers get the English version."
            )
    if not draft.items:
        errors["items"] = "Choose at least one item."
    elif len(draft.items) > drafts.MAX_ITEMS:
        errors["items"] = "Too many items for one letter."
    return errors


def offered_items(session: Session, chosen: list[int]) -> list[ContentItem]:
    """The chosen items in their order, then recent ones to choose from, newest first."""
    recent = choosing.items_published_between(session, since=utcnow() - RECENT, limit=OFFERED)
    by_id = {item.id: item for item in recent}
    missing = [i for i in chosen if i not in by_id]
    if missing:
        by_id.update(
            {
                i.id: i
                for i in session.scalars(select(ContentItem).where(ContentItem.id.in_(missing)))
            }
        )
    first = [by_id[i] for i in chosen if i in by_id]
    return first + [item for item in recent if item.id not in set(chosen)]


def form_context(
    request: Request,
    session: Session,
    staff: Staff,
    draft: Draft,
    *,
    errors: dict[str, str] | None = None,
    preview: bool = False,
) -> dict[str, Any]:
    locale = staff_locale(request, staff)
    errors = {name: translate(locale, text) for name, text in (errors or {}).items()}
    topics = list(session.scalars(select(Topic).order_by(Topic.position, Topic.slug)))
    items = offered_items(session, draft.items)
    zone = settings_of(request).app.timezone
    return {
        "draft": draft,
        "errors": errors,
        "items": items,
        "item_dates": {item.id: _date_of(item, locale, zone) for item in items},
        "on_desk": {decision.item_id for decision in desk.pending(session)},
        "positions": {item_id: n + 1 for n, item_id in enumerate(draft.items)},
        "topics": [(t.slug, t.name(locale)) for t in topics],
        "intro_preview": intro_html(draft.intro) if preview and "intro" not in errors else None,
        "intro_preview_en": (
            intro_html(draft.other("en", "intro")) if preview and "intro" not in errors else None
        ),
        "field_ids": {"items": "items-list"},
        "topic_kinds": TOPIC_KINDS,
    }


def _date_of(item: ContentItem, locale: str, zone: str) -> str:
    """An event's day (what sets it apart from its other dates), or when an item came out."""
    if item.kind == "event" and item.event_start is not None:
        return i18n.format_day(item.event_start, locale, timezone=zone)
    moment = item.published_at or item.first_seen_at
    return i18n.format_day(moment, locale, timezone=zone) if moment else ""


@router.get("/editions/new", response_class=HTMLResponse, dependencies=[LIVE])
def new_letter(
    request: Request, staff: Staff = page(Permission.DRAFT), session: Session = SessionDep
) -> HTMLResponse:
    """The new-letter form, with what was published since the last letter already ticked."""
    draft = Draft(items=[item.id for item in choosing.default_items(session)][:12])
    return render(
        request,
        "admin/edition-new.html",
        staff=staff,
        title="New letter",
        **form_context(request, session, staff, draft),
    )


@router.post("/editions/new", response_model=None, dependencies=[LIVE])
def create_letter(
    request: Request,
    staff: Staff = form(Permission.DRAFT),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    draft, action = read_form(fields)
    errors = check(draft) if action == "save" else {}
    if action != "save" or errors:
        return render(
            request,
            "admin/edition-new.html",
            staff=staff,
            title="New letter",
            status_code=400 if errors else 200,
            **form_context(request, session, staff, draft, errors=errors, preview=True),
        )
    try:
        edition = drafts.create_edition(
            session,
            subject=draft.subject,
            preheader=draft.preheader,
            intro=draft.intro,
            items=choosing.items_by_ids(session, draft.items),
            topics=draft.topics,
            send_whole=draft.send_whole,
            translations=translated(draft),
            headings=draft.titled(),
        )
    except DraftError as error:
        return render(
            request,
            "admin/edition-new.html",
            staff=staff,
            title="New letter",
            status_code=400,
            **form_context(request, session, staff, draft, errors={"form": str(error)}),
        )
    return RedirectResponse(f"/admin/editions/{edition.id}?done=saved", status_code=303)


@router.get("/editions/{edition_id:int}", response_class=HTMLResponse, dependencies=[LIVE])
def edition_view(
    edition_id: int,
    request: Request,
    staff: Staff = page(),
    session: Session = SessionDep,
) -> HTMLResponse:
    """One edition: its form while it is a draft, who receives it, previews, test-send,
    sending controls, progress and results."""
    edition = session.get(Edition, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    extra = {}
    if edition.status in drafts.EDITABLE_STATUSES and may(staff.actor, Permission.DRAFT):
        extra = form_context(request, session, staff, Draft.of(edition))
    return edition_page.show(request, session, staff, edition, **extra)


@router.post("/editions/{edition_id:int}", response_model=None, dependencies=[LIVE])
def save_letter(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.DRAFT),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    edition = session.get(Edition, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    draft, action = read_form(fields)
    errors = check(draft) if action == "save" else {}
    if edition.status not in drafts.EDITABLE_STATUSES:
        errors["form"] = "Only a draft or a scheduled letter can be changed."
    if action != "save" or errors:
        context = form_context(request, session, staff, draft, errors=errors, preview=True)
        return edition_page.show(
            request, session, staff, edition, status_code=400 if errors else 200, **context
        )
    headings = draft.titled()
    if edition.locale and edition.locale != "fr":
        # An edition fixed to English: its one language is the form's first field.
        headings = {item_id: {edition.locale: t["fr"]} for item_id, t in headings.items()}
    try:
        with session.begin_nested():
            drafts.update_edition(
                session,
                edition_id,
                subject=draft.subject,
                preheader=draft.preheader,
                intro=draft.intro,
                item_ids=draft.items,
                send_whole=draft.send_whole,
                # The form holds every language: one emptied is removed. An edition fixed to
                # one language (made with --locale) has no other version to keep.
                translations={}
                if edition.locale
                else {code: translated(draft).get(code) for code in OTHER_LANGUAGES},
                topics=draft.topics if edition.kind in TOPIC_KINDS else None,
                headings=headings,
            )
    except DraftError as error:
        context = form_context(request, session, staff, draft, errors={"form": str(error)})
        return edition_page.show(request, session, staff, edition, status_code=400, **context)
    return RedirectResponse(f"/admin/editions/{edition_id}?done=saved", status_code=303)
