"""The audit trail for staff: who did what and when, newest first, narrowed by actor,
action, object and dates (`dispatch.staff.trail`), times in the staff member's words."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dispatch.staff import trail
from dispatch.web.admin.guard import Staff, page
from dispatch.web.admin.lists import before_of, day, pager, when, words
from dispatch.web.admin.render import render
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()

#: How each way of acting is named.
VIA = {"web": "staff pages", "api": "API", "cli": "command line", "task": "automatic"}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    zone = settings_of(request).app.timezone
    query = request.query_params
    filters = {k: query.get(k, "").strip() for k in ("actor", "action", "object", "since", "until")}
    object_type, _, object_id = filters["object"].partition(":")
    known = trail.actions(session)
    found = trail.events(
        session,
        limit=51,
        before_id=before_of(request),
        action=filters["action"] if filters["action"] in known else None,
        actor=filters["actor"][:320] or None,
        object_type=object_type.strip()[:40] or None,
        object_id=object_id.strip()[:100] or None,
        since=day(filters["since"], zone),
        until=day(filters["until"], zone, end=True),
    )
    paged = pager(request, found)
    rows = [
        {
            "at": when(staff, event.at, zone),
            "actor": event.actor,
            "role": words(staff, event.role) if event.role else "",
            "via": words(staff, VIA.get(event.via, event.via)),
            "action": event.action,
            "object": f"{event.object_type}:{event.object_id}" if event.object_type else "—",
            "summary": _summary(event.summary),
            "ip": event.ip or "",
        }
        for event in paged.rows
    ]
    return render(
        request,
        "admin/audit.html",
        staff=staff,
        title="Audit",
        rows=rows,
        pager=paged,
        filters=filters,
        actions=[(a, a) for a in known],
    )


def _summary(summary: dict[str, object] | None) -> str:
    """What changed, as short `key: value` text (values as JSON, never markup)."""
    if not summary:
        return ""
    return "; ".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in summary.items()
    )
