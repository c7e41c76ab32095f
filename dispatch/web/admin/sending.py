"""Sending a letter from its page: the test-send, then schedule, send now, pause, resume and
cancel, each asked twice (a confirmation page sized to the audience), and the progress the
page's script reads.

Pausing and resuming take effect at once; scheduling, sending and cancelling first show
what will happen and to how many people; from `CONFIRM_BY_NUMBER` recipients on, the
confirmation asks for that number to be typed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.delivery import controls, proofs, results
from dispatch.doorbell import ring_after_commit
from dispatch.editions.errors import DraftError, EditionStateError
from dispatch.editions.models import Edition
from dispatch.editions.schedule import schedule_edition
from dispatch.staff.roles import Permission
from dispatch.web.admin import edition_page, present
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.render import render, staff_locale
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, settings_of

router = APIRouter()
#: From this many recipients on, confirming means typing their number.
CONFIRM_BY_NUMBER = 100
#: What each two-step action says on its confirmation page.
CONFIRM_TITLES = {
    "schedule": "Schedule this letter?",
    "send": "Send this letter now?",
    "cancel": "Cancel this letter?",
}


def _edition(session: Session, edition_id: int) -> Edition | None:
    return session.get(Edition, edition_id)


def _done(edition_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/editions/{edition_id}?done={what}", status_code=303)


def _ring(session: Session, edition_id: int, count: int) -> None:
    for _ in range(count):
        ring_after_commit(session, "delivery.send_batch", edition_id)


def _problem(
    request: Request, session: Session, staff: Staff, edition: Edition, text: str
) -> HTMLResponse:
    locale = staff_locale(request, staff)
    return edition_page.show(
        request,
        session,
        staff,
        edition,
        status_code=400,
        errors={"form": translate(locale, text)},
    )


def recipients_for(session: Session, edition: Edition) -> int:
    """How many people the action concerns: the audience now, or what is left to send."""
    if edition.started_at is None:
        return results.audience_count(session, edition).total
    counts = controls.status(session, edition.id)["counts"]
    return int(counts["queued"] + counts["sending"])


def confirmation(
    request: Request,
    session: Session,
    staff: Staff,
    edition: Edition,
    action: str,
    *,
    fields: dict[str, str],
    errors: dict[str, str] | None = None,
    when: datetime | None = None,
) -> HTMLResponse:
    locale = staff_locale(request, staff)
    zone = settings_of(request).app.timezone
    count = recipients_for(session, edition)
    return render(
        request,
        "admin/edition-confirm.html",
        staff=staff,
        title=CONFIRM_TITLES[action],
        status_code=400 if errors else 200,
        edition=edition,
        action=action,
        count=count,
        by_number=count >= CONFIRM_BY_NUMBER,
        when=present.moment(when, locale, zone) if when else "",
        day=fields.get("day", ""),
        time=fields.get("time", ""),
        errors={k: translate(locale, v) for k, v in (errors or {}).items()},
    )


def _confirmed(fields: dict[str, str], count: int) -> dict[str, str] | None:
    """None until the confirmation was posted; then the errors ({} when it is right)."""
    if fields.get("confirmed") != "yes":
        return None
    if count >= CONFIRM_BY_NUMBER and fields.get("count", "").strip() != str(count):
        return {"count": "Type the number of recipients shown above to confirm."}
    return {}


@router.post("/editions/{edition_id:int}/test-send", response_model=None)
def send_a_test(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.DRAFT),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """Send the letter, marked as a test, to the staff addresses ticked."""
    edition = _edition(session, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    locale = staff_locale(request, staff)
    chosen = [key[3:] for key in fields if key.startswith("to-")]
    staff_addresses = set(edition_page.staff_emails(session))
    if not chosen or not set(chosen) <= staff_addresses:
        return _problem(request, session, staff, edition, "Tick at least one staff address.")
    try:
        sent = proofs.send_test(session, settings_of(request), edition_id, chosen)
    except DraftError as error:
        return _problem(request, session, staff, edition, str(error))
    lines = [
        translate(locale, "Test sent to %(address)s.") % {"address": r.address}
        if r.ok
        else translate(locale, "Not sent to %(address)s: %(why)s")
        % {"address": r.address, "why": r.detail}
        for r in sent
    ]
    return edition_page.show(request, session, staff, edition, notice=" ".join(lines))


@router.post("/editions/{edition_id:int}/schedule", response_model=None)
def schedule(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.SEND),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    edition = _edition(session, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    zone = settings_of(request).app.timezone
    try:
        when = i18n.parse_local(f"{fields.get('day', '')} {fields.get('time', '')}", timezone=zone)
    except ValueError:
        return _problem(
            request, session, staff, edition, "Give a day and a time to send it, in Paris time."
        )
    if when < datetime.now().astimezone() - timedelta(minutes=1):
        return _problem(request, session, staff, edition, "This time is in the past.")
    errors = _confirmed(fields, recipients_for(session, edition))
    if errors is None or errors:
        return confirmation(
            request, session, staff, edition, "schedule", fields=fields, errors=errors, when=when
        )
    try:
        schedule_edition(session, edition_id, send_at=when)
    except EditionStateError as error:
        return _problem(request, session, staff, edition, str(error))
    return _done(edition_id, "scheduled")


@router.post("/editions/{edition_id:int}/send", response_model=None)
def send_now(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.SEND),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    edition = _edition(session, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    errors = _confirmed(fields, recipients_for(session, edition))
    if errors is None or errors:
        return confirmation(request, session, staff, edition, "send", fields=fields, errors=errors)
    try:
        started = controls.send_now(session, edition_id, settings=settings_of(request))
    except EditionStateError as error:
        return _problem(request, session, staff, edition, str(error))
    _ring(session, edition_id, started.batches)
    if started.audience_pending:
        ring_after_commit(session, "delivery.build_audience", edition_id)
    return _done(edition_id, "sending")


@router.post("/editions/{edition_id:int}/cancel", response_model=None)
def cancel(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.SEND),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    edition = _edition(session, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    errors = _confirmed(fields, recipients_for(session, edition))
    if errors is None or errors:
        return confirmation(
            request, session, staff, edition, "cancel", fields=fields, errors=errors
        )
    try:
        controls.cancel(session, edition_id)
    except EditionStateError as error:
        return _problem(request, session, staff, edition, str(error))
    return _done(edition_id, "cancelled")


@router.post("/editions/{edition_id:int}/pause", response_model=None)
def pause(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.SEND),
    session: Session = SessionDep,
) -> Response:
    edition = _edition(session, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    try:
        controls.pause(session, edition_id)
    except EditionStateError as error:
        return _problem(request, session, staff, edition, str(error))
    return _done(edition_id, "paused")


@router.post("/editions/{edition_id:int}/resume", response_model=None)
def resume(
    edition_id: int,
    request: Request,
    staff: Staff = form(Permission.SEND),
    session: Session = SessionDep,
) -> Response:
    edition = _edition(session, edition_id)
    if edition is None:
        return edition_page.missing(request, staff)
    try:
        _ring(session, edition_id, controls.resume(session, edition_id))
    except EditionStateError as error:
        return _problem(request, session, staff, edition, str(error))
    return _done(edition_id, "resumed")


@router.get("/editions/{edition_id:int}/status.json")
def progress(
    edition_id: int, request: Request, staff: Staff = page(), session: Session = SessionDep
) -> Response:
    """Where the send stands, for the page's script: counts, rate, estimated end in words."""
    try:
        status = controls.status(session, edition_id)
    except EditionStateError:
        return JSONResponse({"error": "not found"}, status_code=404)
    locale = staff_locale(request, staff)
    shown: dict[str, Any] = present.progress(status, locale, settings_of(request).app.timezone)
    label, badge_class = present.badge(status["status"])
    shown["status_label"] = translate(locale, label)
    shown["badge_class"] = badge_class
    return JSONResponse(shown, headers={"Cache-Control": "no-store"})
