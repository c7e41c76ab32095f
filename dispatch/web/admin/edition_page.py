"""What an edition's page shows besides its form: the audience count, previews, the
test-send, the actions the staff member may take now, progress and results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.delivery import controls, counts, results
from dispatch.editions import drafts, links
from dispatch.editions.models import Edition
from dispatch.staff.models import StaffUser
from dispatch.staff.roles import Permission, may
from dispatch.web.admin import present
from dispatch.web.admin.guard import Staff
from dispatch.web.admin.render import message, render, staff_locale
from dispatch.web.deps import settings_of

#: The notices a redirect names with `?done=`.
NOTICES = {
    "saved": "The letter is saved.",
    "scheduled": "The letter is scheduled.",
    "sending": "The letter is going out.",
    "paused": "Sending is paused.",
    "resumed": "Sending goes on.",
    "cancelled": "The letter is cancelled: what had not gone out will not.",
}
LANGUAGE_NAMES = {"fr": "French", "en": "English", results.UNKNOWN: "Unknown (erased)"}


def staff_emails(session: Session) -> list[str]:
    """Where test-sends may go: the addresses of active staff accounts."""
    return list(
        session.scalars(
            select(StaffUser.email).where(StaffUser.active.is_(True)).order_by(StaffUser.email)
        )
    )


def default_send_time(zone: str, now: datetime | None = None) -> datetime:
    """Tomorrow, 9:00 where staff are: what a letter is usually scheduled for."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    return (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)


def missing(request: Request, staff: Staff) -> HTMLResponse:
    return message(
        request,
        staff=staff,
        title="Page not found",
        paragraphs=["There is no such letter."],
        status_code=404,
        link=("/admin/editions", "Back to the editions"),
    )


def actions(staff: Staff, edition: Edition) -> dict[str, bool]:
    """Which buttons the page shows: what the edition's state allows and the role may do."""
    send = may(staff.actor, Permission.SEND)
    draft = may(staff.actor, Permission.DRAFT)
    state = edition.status
    unstarted = edition.started_at is None
    return {
        "edit": draft and state in drafts.EDITABLE_STATUSES,
        "test": draft and state in drafts.EDITABLE_STATUSES,
        "schedule": send
        and (state in drafts.EDITABLE_STATUSES or (state == "paused" and unstarted)),
        "send": send and state in ("draft", "scheduled", "paused") and unstarted,
        "pause": send and state in ("sending", "scheduled"),
        "resume": send and state == "paused",
        "cancel": send and state not in ("sent", "cancelled"),
    }


def _frame(edition_id: int, width: int, locale: str, as_email: str) -> str:
    params: dict[str, Any] = {"width": width, "locale": locale}
    if as_email:
        params["as"] = as_email
    return f"/admin/editions/{edition_id}/frame?{urlencode(params)}"


def show(
    request: Request,
    session: Session,
    staff: Staff,
    edition: Edition,
    *,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    settings = settings_of(request)
    locale = staff_locale(request, staff)
    zone = settings.app.timezone
    started = edition.started_at is not None
    preview_locale = request.query_params.get("preview") or edition.locale or locale
    if preview_locale not in ("fr", "en"):
        preview_locale = "fr"
    as_email = (request.query_params.get("as") or "").strip()[:320]
    addresses = staff_emails(session)
    default = edition.send_at.astimezone(ZoneInfo(zone)) if edition.send_at else None
    default = default or default_send_time(zone)
    label, badge_class = present.badge(edition.status)
    context: dict[str, Any] = {
        "edition": edition,
        "badge_label": label,
        "badge_class": badge_class,
        "kind_label": present.KIND_LABELS.get(edition.kind, edition.kind),
        "send_at": present.moment(edition.send_at, locale, zone),
        "late": present.is_late(edition),
        "started": present.moment(edition.started_at, locale, zone),
        "finished": present.moment(edition.finished_at, locale, zone),
        "may": actions(staff, edition),
        "audience": None if started else results.audience_count(session, edition, locale=locale),
        "item_reach": counts.edition_items_reach(session, edition.id),
        # Only when staff switched aggregate link counts on, and once it went out.
        "clicks": links.link_counts(session, edition.id)
        if settings.mail.link_counts and started
        else None,
        "progress": (
            present.progress(controls.status(session, edition.id), locale, zone)
            if started
            else None
        ),
        # While it goes out the progress says it all; results once it stops.
        "results": (
            results.edition_results(session, edition.id)
            if started and edition.status in ("sent", "cancelled", "paused")
            else None
        ),
        "language_names": LANGUAGE_NAMES,
        "preview_locale": preview_locale,
        "preview_as": as_email,
        "frames": [(w, _frame(edition.id, w, preview_locale, as_email)) for w in (375, 600)],
        "staff_addresses": addresses,
        "own_address": staff.user.email,
        "default_day": default.strftime("%Y-%m-%d"),
        "default_time": default.strftime("%H:%M"),
        "notice_key": NOTICES.get(request.query_params.get("done", "")),
        "topic_names": drafts.topic_names(session, locale),
        "draft": None,
    }
    context.update(extra)
    if context["notice_key"] and "notice" not in extra:
        from dispatch.web.admin.words import translate

        context["notice"] = translate(locale, context.pop("notice_key"))
    return render(
        request,
        "admin/edition.html",
        staff=staff,
        title=edition.subject or "Edition",
        status_code=status_code,
        scripts=["admin-live.js"],
        **context,
    )
