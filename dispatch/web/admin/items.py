"""Items for staff: the list with its filters, one item and where it went, curated picks.

An item's page says which alerts, digests and letters carried it and which social posts
announced it; whether it may go out is decided on the desk (`/admin/desk/{id}`). Picks are
added, changed and deleted here through `dispatch.content.items`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dispatch import i18n
from dispatch.audience.models import Receipt
from dispatch.content import items, sources, topics
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem, PublicationEvent
from dispatch.content.sanitise import is_http_url
from dispatch.editions.models import Edition, EditionItem
from dispatch.social.models import SocialPost
from dispatch.staff.roles import Permission
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.lists import (
    PostedDep,
    back,
    before_of,
    day,
    locale_of,
    may_act,
    notice,
    pager,
    text,
    when,
    words,
)
from dispatch.web.admin.render import message, render
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()

KINDS = {"post": "Post", "event": "Event", "pick": "Pick"}
#: Edition kinds as an item's page names where it went.
CHANNELS = {"alert": "Alert", "digest": "Digest", "newsletter": "Letter", "event": "Event mail"}
STATES = {
    "draft": "Draft",
    "scheduled": "Scheduled",
    "sending": "Sending",
    "paused": "Paused",
    "sent": "Sent",
    "cancelled": "Cancelled",
    "failed": "Failed",
    "pending_approval": "Waiting for approval",
    "approved": "Approved",
    "published": "Posted",
    "publishing": "Publishing",
}
NOTICES = {
    "pick-added": "The pick is added.",
    "pick-saved": "The pick is saved.",
    "deleted": "The pick is deleted.",
    "withdrawn": "The pick already went out, so it is withdrawn: what was sent still shows "
    "it, nothing new will.",
}


@router.get("/items", response_class=HTMLResponse)
def items_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    """Items newest first, narrowed by kind, topic, source, dates and words."""
    zone = settings_of(request).app.timezone
    query = request.query_params
    all_topics = topics.list_topics(session)
    known_topics = {t.slug for t in all_topics}
    all_sources = sources.list_sources(session)
    source_id = query.get("source", "")
    wanted = items.ItemFilter(
        kind=query.get("kind") if query.get("kind") in KINDS else None,
        topic=query.get("topic") if query.get("topic") in known_topics else None,
        source_id=int(source_id) if source_id.isdigit() else None,
        since=day(query.get("since", ""), zone),
        until=day(query.get("until", ""), zone, end=True),
        text=query.get("q", "")[:200],
        include_unpublished=True,
    )
    found = items.search_items(session, wanted, limit=51, before_id=before_of(request))
    paged = pager(request, found)
    locale = locale_of(staff)
    rows = [
        {
            "id": item.id,
            "title": item.title,
            "kind": words(staff, KINDS.get(item.kind, item.kind)),
            "topics": ", ".join(t.name(locale) for t in item.topics),
            "source": _source_name(staff, item),
            "published": (
                words(
                    staff,
                    "event on %(day)s",
                    day=i18n.format_day(item.event_start, locale_of(staff), timezone=zone),
                )
                if item.published_at is None and item.kind == "event" and item.event_start
                else when(staff, item.published_at, zone)
            ),
            "withdrawn": item.status != "published",
        }
        for item in paged.rows
    ]
    return render(
        request,
        "admin/items.html",
        staff=staff,
        title="Items",
        rows=rows,
        pager=paged,
        filters={k: query.get(k, "") for k in ("q", "kind", "topic", "source", "since", "until")},
        kinds=[(k, words(staff, v)) for k, v in KINDS.items()],
        topic_choices=[(t.slug, t.name(locale)) for t in all_topics],
        source_choices=[(str(s.id), s.name or s.url) for s in all_sources],
        can_edit=may_act(staff, Permission.CONTENT),
        notice=notice(request, staff, NOTICES),
    )


def _source_name(staff: Staff, item: ContentItem) -> str:
    """Every source that lists the item (a site's feed and its REST API: one item)."""
    found = [seen.source for seen in item.sightings] or [item.source]
    names = dict.fromkeys(
        words(staff, "Added by hand") if s.kind == "manual" else (s.name or s.url) for s in found
    )
    return ", ".join(names)


def _where_it_went(session: Session, staff: Staff, item_id: int, zone: str) -> dict[str, Any]:
    editions = session.execute(
        select(Edition)
        .join(EditionItem, EditionItem.edition_id == Edition.id)
        .where(EditionItem.item_id == item_id)
        .order_by(Edition.id.desc())
    ).scalars()
    posts = session.scalars(
        select(SocialPost).where(SocialPost.item_id == item_id).order_by(SocialPost.id)
    )
    event = session.scalar(select(PublicationEvent).where(PublicationEvent.item_id == item_id))
    # Per-reader receipts: who got it in which edition (once per reader, whatever the channel).
    got = dict(
        session.execute(
            select(Receipt.edition_id, func.count())
            .where(Receipt.item_id == item_id)
            .group_by(Receipt.edition_id)
        ).all()
    )
    readers = session.scalar(
        select(func.count(func.distinct(Receipt.subscriber_id))).where(Receipt.item_id == item_id)
    )
    return {
        "readers": readers or 0,
        "editions": [
            {
                "id": e.id,
                "channel": words(staff, CHANNELS.get(e.kind, e.kind)),
                "subject": e.subject,
                "status": words(staff, STATES.get(e.status, e.status)),
                "when": when(staff, e.finished_at or e.started_at or e.send_at, zone),
                "recipients": e.recipients_total,
                "received": got.get(e.id, 0),
            }
            for e in editions
        ],
        "posts": [
            {
                "account": f"{p.account.name} ({p.account.network})",
                "status": words(staff, STATES.get(p.status, p.status)),
                "when": when(staff, p.published_at or p.scheduled_at, zone),
                "url": p.remote_url if is_http_url(p.remote_url) else None,
            }
            for p in posts
        ],
        "announced": None if event is None else not event.silent,
    }


def _missing(request: Request, staff: Staff) -> HTMLResponse:
    return message(
        request,
        staff=staff,
        title="Page not found",
        paragraphs=["There is nothing at this address."],
        status_code=404,
        link=("/admin/items", "Back to the items"),
    )


@router.get("/items/{item_id:int}", response_class=HTMLResponse)
def item_page(
    item_id: int, request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    item = session.get(ContentItem, item_id)
    if item is None:
        return _missing(request, staff)
    return _item_view(request, staff, session, item)


def _item_view(
    request: Request,
    staff: Staff,
    session: Session,
    item: ContentItem,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    zone = settings_of(request).app.timezone
    locale = locale_of(staff)
    return render(
        request,
        "admin/item.html",
        staff=staff,
        title=item.title,
        status_code=status_code,
        item=item,
        kind=words(staff, KINDS.get(item.kind, item.kind)),
        topic_names=[t.name(locale) for t in item.topics],
        source=_source_name(staff, item),
        published=when(staff, item.published_at, zone),
        first_seen=when(staff, item.first_seen_at, zone),
        event_when=when(staff, item.event_start, zone) if item.event_start else "",
        went=_where_it_went(session, staff, item.id, zone),
        can_edit=may_act(staff, Permission.CONTENT) and item.kind == "pick",
        values=values or _pick_values(item),
        tags=_tag_choices(session, staff),
        errors=errors or {},
        notice=notice(request, staff, NOTICES),
    )


def _pick_values(item: ContentItem | None) -> dict[str, str]:
    if item is None:
        return {"url": "", "title": "", "tag": "onaime", "comment": "", "image_url": "",
                "image_alt": ""}  # fmt: skip
    return {
        "url": item.url,
        "title": item.title,
        "tag": item.tag or "",
        "comment": item.comment or "",
        "image_url": item.image_url or "",
        "image_alt": item.image_alt or "",
    }


def _tag_choices(session: Session, staff: Staff) -> list[tuple[str, str]]:
    """The pick tags first (#onaime, #controverse, #mustread), then every other topic."""
    locale = locale_of(staff)
    found = topics.list_topics(session)
    first = [t for slug in items.PICK_TAGS for t in found if t.slug == slug]
    rest = [t for t in found if t not in first]
    return [(t.slug, f"{t.hashtag or '#' + t.slug} – {t.name(locale)}") for t in first + rest]


def _check_pick(staff: Staff, values: dict[str, str], *, new: bool) -> dict[str, str]:
    """The mistakes a person makes, said in their words before the service is asked."""
    errors: dict[str, str] = {}
    if new and not is_http_url(values["url"]):
        errors["url"] = words(staff, "Enter the address of the page, starting with https://.")
    if not values["title"]:
        errors["title"] = words(staff, "Enter a title.")
    if not values["tag"]:
        errors["tag"] = words(staff, "Choose a tag.")
    if values["image_url"] and not is_http_url(values["image_url"]):
        errors["image_url"] = words(
            staff, "Enter the address of the image, starting with https://."
        )
    if values["image_url"] and not values["image_alt"]:
        errors["image_alt"] = words(
            staff, "Describe the image for readers who do not see it (its text alternative)."
        )
    return errors


def _read_pick(fields: FormData) -> dict[str, str]:
    return {
        name: text(fields, name)
        for name in ("url", "title", "tag", "comment", "image_url", "image_alt")
    }


def _refused(staff: Staff, error: ContentError) -> dict[str, str]:
    reason = str(error)
    if "already a pick" in reason:
        return {"url": words(staff, "This address is already a pick.")}
    if "unknown topic" in reason:
        return {"tag": words(staff, "Choose a tag from the list.")}
    return {"title": words(staff, "This cannot be saved: %(reason)s", reason=reason)}


@router.get("/items/picks/new", response_class=HTMLResponse)
def new_pick_page(
    request: Request, staff: Staff = page(Permission.CONTENT), session: Session = SessionDep
) -> HTMLResponse:
    return _new_pick(request, staff, session, _pick_values(None))


def _new_pick(
    request: Request,
    staff: Staff,
    session: Session,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/pick.html",
        staff=staff,
        title="Add a pick",
        status_code=400 if errors else 200,
        values=values,
        tags=_tag_choices(session, staff),
        errors=errors or {},
    )


@router.post("/items/picks", response_model=None)
def add_pick(
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    values = _read_pick(fields)
    errors = _check_pick(staff, values, new=True)
    if errors:
        return _new_pick(request, staff, session, values, errors)
    try:
        with session.begin_nested():
            item = items.add_pick(
                session,
                url=values["url"],
                title=values["title"],
                tag=values["tag"],
                comment=values["comment"],
                image_url=values["image_url"],
                image_alt=values["image_alt"],
            )
    except ContentError as error:
        return _new_pick(request, staff, session, values, _refused(staff, error))
    return back(f"/admin/items/{item.id}", "pick-added")


@router.post("/items/{item_id:int}/pick", response_model=None)
def change_pick(
    item_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    item = session.get(ContentItem, item_id)
    if item is None:
        return _missing(request, staff)
    values = {**_read_pick(fields), "url": item.url}
    errors = _check_pick(staff, values, new=False)
    if not errors:
        try:
            with session.begin_nested():
                items.update_pick(
                    session,
                    item_id,
                    title=values["title"],
                    tag=values["tag"],
                    comment=values["comment"],
                    image_url=values["image_url"],
                    image_alt=values["image_alt"],
                )
        except ContentError as error:
            errors = _refused(staff, error)
    if errors:
        return _item_view(
            request, staff, session, item, errors=errors, values=values, status_code=400
        )
    return back(f"/admin/items/{item_id}", "pick-saved")


@router.get("/items/{item_id:int}/delete", response_class=HTMLResponse)
def delete_pick_page(
    item_id: int,
    request: Request,
    staff: Staff = page(Permission.CONTENT),
    session: Session = SessionDep,
) -> HTMLResponse:
    item = session.get(ContentItem, item_id)
    if item is None or item.kind != "pick":
        return _missing(request, staff)
    return render(
        request,
        "admin/confirm.html",
        staff=staff,
        title="Delete this pick?",
        paragraphs=[
            item.title,
            words(
                staff,
                "If it already went out in an edition or a post, it is withdrawn "
                "instead: what was sent still shows it, nothing new will.",
            ),
        ],
        action=f"/admin/items/{item_id}/delete",
        button=words(staff, "Delete the pick"),
        cancel=f"/admin/items/{item_id}",
    )


@router.post("/items/{item_id:int}/delete", response_model=None)
def delete_pick(
    item_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    try:
        outcome = items.delete_pick(session, item_id)
    except ContentError:
        return _missing(request, staff)
    if outcome == "withdrawn":
        return back(f"/admin/items/{item_id}", "withdrawn")
    return back("/admin/items", "deleted")
