"""The editorial desk for staff: what awaits a decision, approving or holding it on every
channel at once, the social posts' text before approval, and each topic's policy.

Every action is a plain form (POST + CSRF) that redirects to the page with a confirmation;
no script is needed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.content import desk
from dispatch.content.topics import list_topics
from dispatch.social import desk as social_desk
from dispatch.social import service as social
from dispatch.staff.roles import Permission, may
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.render import render
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, settings_of

router = APIRouter()

#: Channel names and states as the page says them (message ids of the desk's words).
CHANNEL_LABELS = {
    "alert": "Alert (readers who asked for “as soon as published”)",
    "digest": "Weekly and monthly digests",
    "letter": "Next letter",
    "social": "Every social account",
}
STATE_LABELS = {
    "released": "released",
    "waiting": "waiting",
    "off": "off",
    "held": "held",
    "automatic": "automatic",
    "pending": "awaiting approval",
    "approved": "approved",
}
#: A topic's policy, as the select and the item's page name it.
POLICY_LABELS = {
    "automatic": "policy|Automatic: everything goes out",
    "approval": "policy|On approval: staff release it",
    "manual": "policy|Manual: staff choose each channel",
}
DONE = {
    "approved": "Released: the checked channels will carry the item.",
    "held": "Held: no channel will carry the item, and its waiting social posts are cancelled.",
    "saved": "The texts are saved. Nothing is released yet.",
    "policies": "The topics’ policies are saved. They apply to items published from now on.",
}


def _channel_label(locale: str, name: str, posts: list[dict[str, Any]]) -> str:
    for post in posts:
        if post["channel"] == name:
            return f"{post['account']} ({post['network']})"
    return translate(locale, CHANNEL_LABELS.get(name, name))


def _row(
    session: Session, decision: Any, locale: str, zone: str, topic_names: dict[str, str]
) -> dict[str, Any]:
    data = social_desk.view(session, decision)
    posts = data["posts"]
    names = [n for n in data["channels"] if n != "social" or not posts]
    data["choices"] = [
        {
            "name": name,
            "label": _channel_label(locale, name, posts),
            "state": translate(locale, STATE_LABELS[data["channels"][name]]),
            "checked": data["channels"][name] != "off",
        }
        for name in names
    ]
    data["when"] = i18n.format_moment(decision.created_at, locale, timezone=zone)
    data["state_label"] = translate(locale, STATE_LABELS[decision.state])
    data["policy_label"] = translate(locale, POLICY_LABELS[decision.policy])
    data["topics"] = [topic_names.get(slug, slug) for slug in data["topics"]]
    return data


def _desk_page(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    texts: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    locale = staff.user.language
    zone = settings_of(request).app.timezone
    waiting = desk.pending(session)
    shown = {d.id for d in waiting}
    recent = [d for d in desk.decisions(session, limit=20) if d.id not in shown]
    names = {topic.slug: topic.name(locale) for topic in list_topics(session)}
    return render(
        request,
        "admin/desk.html",
        staff=staff,
        title="Desk",
        status_code=status_code,
        notice=translate(locale, notice) if notice else None,
        errors=errors or {},
        texts=texts or {},
        waiting=[_row(session, d, locale, zone, names) for d in waiting],
        recent=[_row(session, d, locale, zone, names) for d in recent],
        may_decide=may(staff.actor, Permission.SOCIAL_APPROVE),
        may_edit_policies=may(staff.actor, Permission.CONTENT),
        topics=list_topics(session),
        policies=[(p, translate(locale, POLICY_LABELS[p])) for p in desk.POLICIES],
    )


@router.get("/desk", response_class=HTMLResponse)
def desk_page(request: Request, staff: Staff = page(), session: Session = SessionDep) -> Response:
    return _desk_page(
        request, staff, session, notice=DONE.get(request.query_params.get("done", ""))
    )


@router.get("/desk/{item_id:int}", response_model=None)
def desk_item(item_id: int, staff: Staff = page()) -> Response:
    """One item on the desk: its place on the desk page (waiting or recently decided)."""
    return RedirectResponse(f"/admin/desk#item-{item_id}", status_code=303)


def _save_texts(
    request: Request, session: Session, item_id: int, fields: dict[str, str], locale: str
) -> dict[str, str]:
    """Edited post texts saved; a text the network would refuse is an error, not cut."""
    errors: dict[str, str] = {}
    for post in social_desk.posts_of(session, item_id):
        text = fields.get(f"text-{post.id}")
        if text is None or text.replace("\r\n", "\n") == post.text:
            continue
        try:
            social.edit_post(session, post.id, text.replace("\r\n", "\n"), settings_of(request))
        except social.SocialError as error:
            errors[f"text-{post.id}"] = (
                f"{translate(locale, 'This text cannot be posted:')} {error}"
            )
    return errors


@router.post("/desk/{item_id:int}", response_model=None)
def decide(
    item_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """Approve the checked channels (the others are switched off), hold, or save the texts."""
    locale = staff.user.language
    action = fields.get("action", "")
    try:
        if action == "hold":
            social_desk.hold(session, item_id)
            return RedirectResponse("/admin/desk?done=held", status_code=303)
        errors = _save_texts(request, session, item_id, fields, locale)
        if errors:
            session.rollback()
            texts = {k: v for k, v in fields.items() if k.startswith("text-")}
            return _desk_page(request, staff, session, errors=errors, texts=texts, status_code=400)
        if action == "save":
            return RedirectResponse("/admin/desk?done=saved", status_code=303)
        decision = desk.decision_of(session, item_id)
        if decision is None:
            raise desk.DeskError(f"item {item_id} is not on the desk")
        # One decision: the unchecked channels are switched off, then the item is approved.
        for choice in _row(session, decision, locale, "UTC", {})["choices"]:
            if fields.get(f"channel-{choice['name']}") != "on":
                social_desk.set_channel(session, item_id, choice["name"], False)
        social_desk.approve(session, item_id)
    except desk.DeskError as error:
        session.rollback()
        return _desk_page(request, staff, session, errors={"desk": str(error)}, status_code=400)
    return RedirectResponse("/admin/desk?done=approved", status_code=303)


@router.post("/desk/policies", response_model=None)
def policies(
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    try:
        for topic in list_topics(session):
            chosen = fields.get(f"policy-{topic.slug}")
            if chosen and chosen != topic.desk_policy:
                desk.set_policy(session, topic.slug, chosen)
    except desk.DeskError as error:
        session.rollback()
        return _desk_page(request, staff, session, errors={"policies": str(error)}, status_code=400)
    return RedirectResponse("/admin/desk?done=policies#policies", status_code=303)
