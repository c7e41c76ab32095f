"""Topics for staff: their French and English names, hashtags and order; adding, changing,
and removing one when nothing depends on it (otherwise the page says what does)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dispatch.content import topics
from dispatch.content.errors import ContentError
from dispatch.content.models import Topic
from dispatch.staff.roles import Permission
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.lists import PostedDep, back, may_act, notice, text, words
from dispatch.web.admin.render import message, render
from dispatch.web.deps import SessionDep

router = APIRouter()

NOTICES = {
    "added": "The topic is added.",
    "saved": "The topic is saved.",
    "removed": "The topic is removed.",
}
#: What holds a topic (the tables `topics.topic_uses` names), as a reason not to remove it.
USES = {
    "preferences": "%(n)s subscribers follow it",
    "item_topics": "%(n)s items carry it",
    "source_topics": "%(n)s sources give it to their items",
    "sources": "%(n)s WordPress sites give it to their events",
    "topic_rules": "%(n)s category rules lead to it",
    "account_topics": "%(n)s social accounts post it",
}


def _values(topic: Topic | None) -> dict[str, str]:
    if topic is None:
        return {"slug": "", "name_fr": "", "name_en": "", "hashtag": "", "position": ""}
    return {
        "slug": topic.slug,
        "name_fr": topic.name_fr,
        "name_en": topic.name_en,
        "hashtag": topic.hashtag or "",
        "position": str(topic.position),
    }


def _read(fields: FormData) -> dict[str, str]:
    return {k: text(fields, k) for k in ("slug", "name_fr", "name_en", "hashtag", "position")}


def _check(staff: Staff, values: dict[str, str], *, new: bool) -> dict[str, str]:
    errors = {}
    slug = values["slug"].lower()
    if new and (not slug or not slug.replace("-", "").replace("_", "").isalnum()):
        errors["slug"] = words(staff, "Use letters, digits, - or _ (it appears in addresses).")
    if not values["name_fr"]:
        errors["name_fr"] = words(staff, "Enter the French name.")
    if not values["name_en"]:
        errors["name_en"] = words(staff, "Enter the English name.")
    if not new and not values["position"].lstrip("-").isdigit():
        errors["position"] = words(staff, "Enter a whole number.")
    return errors


@router.get("/topics", response_class=HTMLResponse)
def topics_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    return _list(request, staff, session)


def _list(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/topics.html",
        staff=staff,
        title="Topics",
        status_code=400 if errors else 200,
        topics=topics.list_topics(session),
        values=values or _values(None),
        errors=errors or {},
        can_edit=may_act(staff, Permission.CONTENT),
        notice=notice(request, staff, NOTICES),
    )


@router.post("/topics", response_model=None)
def add_topic(
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    values = _read(fields)
    errors = _check(staff, values, new=True)
    if not errors:
        try:
            with session.begin_nested():
                topics.add_topic(
                    session,
                    values["slug"],
                    name_fr=values["name_fr"],
                    name_en=values["name_en"],
                    hashtag=values["hashtag"] or None,
                )
        except ContentError:
            errors["slug"] = words(staff, "A topic with this short name already exists.")
    if errors:
        return _list(request, staff, session, values=values, errors=errors)
    return back("/admin/topics", "added")


def _topic(session: Session, topic_id: int) -> Topic | None:
    return session.get(Topic, topic_id)


def _missing(request: Request, staff: Staff) -> HTMLResponse:
    return message(
        request,
        staff=staff,
        title="Page not found",
        paragraphs=["There is nothing at this address."],
        status_code=404,
        link=("/admin/topics", "Back to the topics"),
    )


@router.get("/topics/{topic_id:int}", response_class=HTMLResponse)
def topic_page(
    topic_id: int, request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    topic = _topic(session, topic_id)
    if topic is None:
        return _missing(request, staff)
    return _edit(request, staff, session, topic, _values(topic))


def _edit(
    request: Request,
    staff: Staff,
    session: Session,
    topic: Topic,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    uses = topics.topic_uses(session, topic.id)
    reasons = [words(staff, USES.get(table, table + ": %(n)s"), n=n) for table, n in uses.items()]
    return render(
        request,
        "admin/topic.html",
        staff=staff,
        title=topic.name_fr if staff.user.language == "fr" else topic.name_en,
        status_code=400 if errors else 200,
        topic=topic,
        values=values,
        errors=errors or {},
        reasons=reasons,
        can_edit=may_act(staff, Permission.CONTENT),
        notice=notice(request, staff, NOTICES),
    )


@router.post("/topics/{topic_id:int}", response_model=None)
def change_topic(
    topic_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    topic = _topic(session, topic_id)
    if topic is None:
        return _missing(request, staff)
    values = {**_read(fields), "slug": topic.slug}
    errors = _check(staff, values, new=False)
    if errors:
        return _edit(request, staff, session, topic, values, errors)
    topics.update_topic(
        session,
        topic_id,
        name_fr=values["name_fr"],
        name_en=values["name_en"],
        hashtag=values["hashtag"],
        position=int(values["position"]),
    )
    return back(f"/admin/topics/{topic_id}", "saved")


@router.post("/topics/{topic_id:int}/remove", response_model=None)
def remove_topic(
    topic_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    topic = _topic(session, topic_id)
    if topic is None:
        return _missing(request, staff)
    try:
        topics.remove_topic(session, topic_id)
    except topics.TopicInUseError:
        return _edit(
            request,
            staff,
            session,
            topic,
            _values(topic),
            {"remove": words(staff, "This topic cannot be removed while something uses it.")},
        )
    return back("/admin/topics", "removed")
