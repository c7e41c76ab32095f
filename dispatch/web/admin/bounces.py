"""Bounces for staff: the suppressed addresses by reason, and the returned mail held for
review, applied or discarded one by one (`dispatch.delivery.bounces.held`).

Suppressions are kept as keyed hashes: the page shows the address of a subscriber whose
hash is on the list (unsubscribed, bounced, complained); erased and purged people leave no
address, only a count. Any address typed in the search is checked against the list itself.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.audience import suppression
from dispatch.audience.addresses import InvalidInputError, normalise_email
from dispatch.audience.models import SUPPRESSION_REASONS, Subscriber, Suppression
from dispatch.delivery.bounces import handling, held
from dispatch.staff.roles import Permission
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.lists import back, before_of, may_act, notice, pager, when, words
from dispatch.web.admin.render import render
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()

REASONS = {
    "unsubscribed": "event|Unsubscribed",
    "bounced": "Bounced",
    "complained": "Reported as spam",
    "erased": "Erased on request",
    "purged": "Removed after inactivity",
}
#: The reasons whose people keep a subscriber row (with its address) after suppression.
LISTED = ("unsubscribed", "bounced", "complained")
HELD_KINDS = {
    "hard": "Permanent failure",
    "soft": "Temporary failure",
    "complaint": "Spam report",
    "unreadable": "Unreadable message",
}
NOTICES = {
    "applied": "The report is applied.",
    "discarded": "The report is discarded: it changed nothing.",
    "refused": "This report cannot be applied: it was already decided, or it is a message "
    "that could not be read (discard it).",
}


def _held_reason(staff: Staff, reason: str) -> str:
    if reason == held.NO_PROOF:
        return words(
            staff,
            "Nothing proves which email it answers, and anyone can write to the bounce "
            "mailbox: apply it only if you trust it.",
        )
    if "no longer exists" in reason:
        return words(staff, "The email it answers is no longer on record.")
    return reason


@router.get("/bounces", response_class=HTMLResponse)
def bounces_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    settings = settings_of(request)
    zone = settings.app.timezone
    query = request.query_params
    reason = query.get("reason", "")
    reason = reason if reason in LISTED else ""
    search = query.get("q", "").strip()[:320]
    counts = dict(
        session.execute(select(Suppression.reason, func.count()).group_by(Suppression.reason)).all()
    )
    people = select(Subscriber).where(Subscriber.status.in_([reason] if reason else LISTED))
    if search:
        pattern = "%" + search.lower().replace("%", r"\%").replace("_", r"\_") + "%"
        people = people.where(Subscriber.email.ilike(pattern, escape="\\"))
    before = before_of(request)
    if before is not None:
        people = people.where(Subscriber.id < before)
    found = list(session.scalars(people.order_by(Subscriber.id.desc()).limit(51)))
    paged = pager(request, found)
    hashes = {p.id: suppression.email_hash(settings, p.email) for p in paged.rows}
    listed = {
        row.email_hash: row
        for row in session.scalars(
            select(Suppression).where(Suppression.email_hash.in_(list(hashes.values())))
        )
    }
    rows = []
    for person in paged.rows:
        row = listed.get(hashes[person.id])
        rows.append(
            {
                "id": person.id,
                "email": person.email,
                "reason": words(staff, REASONS.get(row.reason if row else person.status, "")),
                "since": when(staff, row.created_at if row else person.unsubscribed_at, zone),
            }
        )
    checked = None
    if "@" in search:
        try:
            address = normalise_email(search)
        except InvalidInputError:
            address = ""
        if address:
            found_reason = suppression.suppression_reason(session, settings, address)
            checked = (address, words(staff, REASONS[found_reason]) if found_reason else None)
    held_rows = [
        {
            "id": r.id,
            "kind": words(staff, HELD_KINDS.get(r.kind, r.kind)),
            "recipients": [a for a in r.recipients.split("\n") if a],
            "received": when(staff, r.received_at, zone),
            "reason": _held_reason(staff, r.reason),
            "diagnostic": r.diagnostic or "",
            "origin": r.origin,
            "unreadable": r.kind == "unreadable",
        }
        for r in held.list_held(session)
    ]
    return render(
        request,
        "admin/bounces.html",
        staff=staff,
        title="Bounces",
        counts=[(words(staff, REASONS[r]), counts.get(r, 0)) for r in SUPPRESSION_REASONS],
        reasons=[(r, words(staff, REASONS[r])) for r in LISTED],
        reason=reason,
        search=search,
        rows=rows,
        pager=paged,
        checked=checked,
        held=held_rows,
        can_review=may_act(staff, Permission.BOUNCES),
        notice=notice(request, staff, NOTICES),
    )


@router.post("/bounces/held/{held_id:int}/apply", response_model=None)
def apply(
    held_id: int,
    request: Request,
    staff: Staff = form(Permission.BOUNCES),
    session: Session = SessionDep,
) -> Response:
    try:
        with session.begin_nested():
            handling.apply_held(session, settings_of(request), held_id)
    except held.HeldReportError:
        return back("/admin/bounces#held", "refused")
    return back("/admin/bounces#held", "applied")


@router.post("/bounces/held/{held_id:int}/discard", response_model=None)
def discard(
    held_id: int,
    staff: Staff = form(Permission.BOUNCES),
    session: Session = SessionDep,
) -> Response:
    try:
        held.discard(session, held_id)
    except held.HeldReportError:
        return back("/admin/bounces#held", "refused")
    return back("/admin/bounces#held", "discarded")
