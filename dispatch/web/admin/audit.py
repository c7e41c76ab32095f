"""The audit trail for staff: who did what and when, newest first, narrowed by actor,
action, object and dates (`dispatch.staff.trail`), times in the staff member's words."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dispatch.staff import trail
from dispatch.web.admin.guard import Staff, page
from dispatch.web.admin.lists import before_of, day, pager, when, words
from dispatch.web.admin.render import render
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()

#: What each action is called (an action not listed shows its own name).
ACTIONS = {
    "bounce.held_applied": "A held bounce report applied",
    "bounce.held_discarded": "A held bounce report discarded",
    "desk.approved": "Approved on the desk",
    "desk.channel_changed": "A channel switched on the desk",
    "desk.held": "Held on the desk",
    "desk.policy_changed": "A topic's desk rule changed",
    "edition.cancelled": "Letter cancelled",
    "edition.created": "Letter created",
    "edition.edited": "Letter edited",
    "edition.paused": "Sending paused",
    "edition.resumed": "Sending resumed",
    "edition.scheduled": "Letter scheduled",
    "edition.sent": "Sending started",
    "pick.added": "Pick added",
    "pick.changed": "Pick changed",
    "pick.deleted": "Pick deleted",
    "pick.withdrawn": "Pick withdrawn",
    "social.account_added": "Social account added",
    "social.account_changed": "Social account changed",
    "social.account_disabled": "Social account disabled",
    "social.account_enabled": "Social account enabled",
    "social.post_approved": "Social post approved",
    "social.post_cancelled": "Social post cancelled",
    "social.post_edited": "Social post edited",
    "social.post_scheduled": "Social post scheduled",
    "source.added": "Source added",
    "source.changed": "Source changed",
    "source.paused": "Source paused",
    "source.removed": "Source removed",
    "source.resumed": "Source resumed",
    "staff.added": "Staff member invited",
    "staff.disabled": "Staff account disabled",
    "staff.enabled": "Staff account enabled",
    "staff.link_sent": "Sign-in link sent",
    "staff.login": "Logged in",
    "staff.login_failed": "Failed login",
    "staff.password_changed": "Password changed",
    "staff.recovery_code_used": "Recovery code used",
    "staff.role_changed": "Role changed",
    "staff.session_revoked": "Session ended",
    "staff.token_created": "API token created",
    "staff.token_revoked": "API token revoked",
    "staff.two_factor_off": "Second factor turned off",
    "staff.two_factor_on": "Second factor turned on",
    "subscriber.added": "Subscriber added",
    "subscriber.erased": "Subscriber erased",
    "subscriber.exported": "A subscriber's data exported",
    "subscriber.paused": "Subscription paused",
    "subscriber.preferences_changed": "Preferences changed",
    "subscriber.resumed": "Subscription resumed",
    "subscriber.unsubscribed": "Unsubscribed by staff",
    "subscribers.exported": "Subscribers exported",
    "subscribers.imported": "Subscribers imported",
    "subscribers.purged": "Inactive subscribers removed",
    "topic.added": "Topic added",
    "topic.changed": "Topic changed",
    "topic.removed": "Topic removed",
    "topic.rule_added": "Category rule added",
    "topic.rule_removed": "Category rule removed",
}
#: Where an object of the trail is shown.
PAGES = {
    "edition": "/admin/editions/{id}",
    "item": "/admin/items/{id}",
    "pick": "/admin/items/{id}",
    "subscriber": "/admin/subscribers/{id}",
    "staff": "/admin/staff/{id}",
    "social_account": "/admin/social/accounts/{id}",
}
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
            "action_label": words(staff, ACTIONS[event.action]) if event.action in ACTIONS else "",
            "object": f"{event.object_type}:{event.object_id}" if event.object_type else "—",
            "object_url": _page_of(event.object_type, event.object_id),
            "summary": _summary(staff, event.summary, zone),
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
        actions=[(a, words(staff, ACTIONS[a]) if a in ACTIONS else a) for a in known],
    )


def _page_of(object_type: str | None, object_id: str | None) -> str | None:
    pattern = PAGES.get(object_type or "")
    if pattern is None or not (object_id or "").isdigit():
        return None
    return pattern.format(id=object_id)


def _summary(staff: Staff, summary: dict[str, object] | None, zone: str) -> str:
    """What changed, as short `key: value` text (never markup): moments in words, nothing
    as "—", lists as lists."""
    if not summary:
        return ""
    return "; ".join(f"{key}: {_value(staff, value, zone)}" for key, value in summary.items())


def _value(staff: Staff, value: object, zone: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return words(staff, "yes" if value else "no")
    if isinstance(value, str):
        moment = _moment(value)
        return when(staff, moment, zone) if moment else value
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, dict) and set(value) == {"before", "after"}:
        before, after = _value(staff, value["before"], zone), _value(staff, value["after"], zone)
        return f"{before} → {after}"
    return json.dumps(value, ensure_ascii=False)


def _moment(text: str) -> datetime | None:
    if len(text) < 19 or text[4:5] != "-" or "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
