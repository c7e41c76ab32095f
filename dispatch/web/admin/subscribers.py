"""Subscribers for staff: search, one person's page, add, change, pause, unsubscribe, export
(everyone as CSV, one person as JSON) and erase after typing the address.

Reading needs READ; every change, and every export of personal data, needs SUBSCRIBERS.
The services audit each change and write the consent ledger; the consent source of a change
made here names the staff member (`back office: …`), as the API's names its caller.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.audience import changes, consent, importexport, receipts, records, service
from dispatch.audience.addresses import InvalidInputError, normalise_email
from dispatch.audience.consent import Origin
from dispatch.audience.models import FREQUENCIES, SUBSCRIBER_STATUSES, Subscriber
from dispatch.audience.suppression import suppression_reason
from dispatch.db import utcnow
from dispatch.delivery.models import Delivery
from dispatch.editions.models import Edition
from dispatch.staff.roles import Permission, may
from dispatch.web.admin import history
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.history import FREQUENCY_LABELS, LANGUAGE_LABELS, STATUS_LABELS
from dispatch.web.admin.render import message, render
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, client_ip, settings_of

router = APIRouter()
PAGE_SIZE = 50
#: Words for the values staff see (message ids of catalogue/people.py).
ACTION_LABELS = {
    "subscribe": "Asked to subscribe",
    "confirm": "Confirmed",
    "preferences": "Changed preferences",
    "unsubscribe": "event|Unsubscribed",
    "import": "Imported",
    "add": "Added by staff",
    "erase": "Erased",
    "purge": "Purged",
    "bounce": "Bounced",
    "complaint": "Complained",
}
DELIVERY_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "failed": "Failed",
    "bounced": "Bounced",
    "skipped": "Skipped",
}
#: Receipts name the edition's kind.
CHANNEL_LABELS = {
    "alert": "Alert",
    "digest": "Digest",
    "newsletter": "Newsletter",
    "event": "Event",
}
NOTICES = {
    "added": "The subscriber is added.",
    "saved": "The preferences are saved.",
    "paused": "Mail to this subscriber is paused.",
    "resumed": "Mail to this subscriber goes out again.",
    "unsubscribed": "This subscriber is unsubscribed; the address is suppressed.",
    "erased": "The subscriber is erased: only a suppression hash of the address is kept.",
    "imported": "Import done: %(added)s added, %(skipped)s left as they were (already "
    "subscribed, or suppressed).",
}


def origin_of(request: Request, staff: Staff) -> Origin:
    """Where a change made on these pages came from, for the consent ledger."""
    return Origin(
        source=f"back office: {staff.user.email}",
        ip=client_ip(request),
        user_agent=(request.headers.get("user-agent") or "")[:300] or None,
    )


def when(request: Request, staff: Staff, value: datetime | None) -> str:
    if value is None:
        return ""
    return i18n.format_moment(
        value, staff.user.language, timezone=settings_of(request).app.timezone
    )


def topic_choices(session: Session, locale: str) -> list[dict[str, str]]:
    return [
        {"slug": t.slug, "name": t.name_fr if locale == "fr" else t.name_en}
        for t in service.topics_in_order(session)
    ]


def _subscriber(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def _missing(request: Request, staff: Staff) -> HTMLResponse:
    return message(
        request,
        staff=staff,
        title="Page not found",
        paragraphs=["There is no such subscriber: erased, or never here."],
        status_code=404,
        link=("/admin/subscribers", "Back to the subscribers"),
    )


def _done(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={notice}", status_code=303)


def notice_of(request: Request, staff: Staff) -> str | None:
    key = NOTICES.get(request.query_params.get("done", ""))
    if key is None:
        return None
    counts = {n: request.query_params.get(n, "") for n in ("added", "skipped")}
    counts = {n: v if v.isdigit() else "0" for n, v in counts.items()}
    return (
        translate(staff.user.language, key) % counts
        if "%(" in key
        else translate(staff.user.language, key)
    )


# --- the list --------------------------------------------------------------------------------


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    """Everyone, newest first, searched and filtered by the form's GET fields."""
    params = request.query_params
    choose = {
        "status": params.get("status") if params.get("status") in SUBSCRIBER_STATUSES else None,
        "language": params.get("language") if params.get("language") in ("fr", "en") else None,
        "frequency": params.get("frequency") if params.get("frequency") in FREQUENCIES else None,
        "topic": (params.get("topic") or "")[:64] or None,
    }
    text = (params.get("q") or "")[:200]
    before = params.get("before", "")
    wanted = records.SubscriberFilter(text=text, **choose)
    found = records.search_subscribers(
        session,
        wanted,
        limit=PAGE_SIZE + 1,
        before_id=int(before) if before.isdigit() else None,
    )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    query = {"q": text, **{k: v for k, v in choose.items() if v}}
    next_url = (
        "/admin/subscribers?" + urlencode({**query, "before": found[-1].id}) if more else None
    )
    topics = topic_choices(session, staff.user.language)
    names = {t["slug"]: t["name"] for t in topics}
    rows = [
        {
            "id": s.id,
            "email": s.email,
            "name": s.name,
            "status": STATUS_LABELS.get(s.status, s.status),
            "language": LANGUAGE_LABELS.get(s.locale, s.locale),
            "topics": ", ".join(
                names.get(slug, slug) for slug in sorted(service.preferences_of(s))
            ),
            "since": i18n.format_date(s.created_at, staff.user.language),
        }
        for s in found
    ]
    return render(
        request,
        "admin/subscribers.html",
        staff=staff,
        title="Subscribers",
        rows=rows,
        query={"q": text, **{k: v or "" for k, v in choose.items()}},
        filtered=bool(text or any(choose.values())),
        first_url="/admin/subscribers?" + urlencode(query) if before else None,
        next_url=next_url,
        statuses=STATUS_LABELS,
        frequencies=FREQUENCY_LABELS,
        languages=LANGUAGE_LABELS,
        topics=topics,
        can_change=may(staff.actor, Permission.SUBSCRIBERS),
        notice=notice_of(request, staff),
    )


@router.post("/subscribers/export.csv", response_model=None)
def export_csv(
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """Everyone (or one status) in the import's columns: a POST, as it leaves a trace."""
    status = fields.get("status") if fields.get("status") in SUBSCRIBER_STATUSES else None
    buffer = io.StringIO()
    importexport.write_csv(importexport.export_records(session, status=status), buffer)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- adding ----------------------------------------------------------------------------------


def _chosen_topics(fields: dict[str, str], topics: list[dict[str, str]]) -> dict[str, str]:
    """The topic selects of a form (`topic-<slug>`: a frequency, or empty for none)."""
    return {
        t["slug"]: fields[f"topic-{t['slug']}"]
        for t in topics
        if fields.get(f"topic-{t['slug']}") in FREQUENCIES
    }


def _add_page(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/subscriber-new.html",
        staff=staff,
        title="Add a subscriber",
        status_code=400 if errors else 200,
        values=values or {"language": "fr"},
        errors=errors or {},
        topics=topic_choices(session, staff.user.language),
        frequencies=FREQUENCY_LABELS,
        languages=LANGUAGE_LABELS,
    )


@router.get("/subscribers/new", response_class=HTMLResponse)
def add_form(
    request: Request, staff: Staff = page(Permission.SUBSCRIBERS), session: Session = SessionDep
) -> HTMLResponse:
    return _add_page(request, staff, session)


@router.post("/subscribers/new", response_model=None)
def add(
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    locale = staff.user.language
    topics = topic_choices(session, locale)
    source = fields.get("consent_source", "").strip()
    errors: dict[str, str] = {}
    if not source:
        errors["consent_source"] = translate(locale, "Say where this person agreed to receive it.")
    wanted = service.SubscriptionRequest(
        email=fields.get("email", ""),
        name=fields.get("name", ""),
        locale=fields.get("language", "fr"),
        topics=_chosen_topics(fields, topics),
    )
    if not errors:
        origin = Origin(source=source, ip=client_ip(request), user_agent="back office")
        try:
            with session.begin_nested():
                subscriber = records.add_subscriber(session, settings_of(request), wanted, origin)
        except records.AlreadySubscribedError:
            errors["email"] = translate(locale, "This address is already a subscriber.")
        except InvalidInputError as error:
            phrase, values = importexport.field_words(error, wanted.locale)
            field = error.field if error.field in ("email", "name") else "email"
            errors[field] = translate(locale, phrase) % dict(values)
        except service.SuppressedAddressError:
            errors["email"] = translate(
                locale,
                "This address asked never to be mailed again: only the person can subscribe "
                "again, from the form, with a confirmation.",
            )
        else:
            return _done(f"/admin/subscribers/{subscriber.id}", "added")
    return _add_page(request, staff, session, values=fields, errors=errors)


# --- one person ------------------------------------------------------------------------------


def sent_to(
    session: Session, subscriber_id: int, *, limit: int = 100
) -> list[tuple[Delivery, Edition]]:
    """What was sent to a person, newest first: one delivery row per edition."""
    rows = session.execute(
        select(Delivery, Edition)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    return [(delivery, edition) for delivery, edition in rows]


@router.get("/subscribers/{subscriber_id:int}", response_class=HTMLResponse)
def subscriber_page(
    subscriber_id: int, request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    settings = settings_of(request)
    locale = staff.user.language
    names = {t["slug"]: t["name"] for t in topic_choices(session, locale)}
    preferences = [
        {"topic": names.get(slug, slug), "frequency": FREQUENCY_LABELS.get(freq, freq)}
        for slug, freq in sorted(service.preferences_of(subscriber).items())
    ]
    ledger = [
        {
            "at": when(request, staff, event.at),
            "action": ACTION_LABELS.get(event.action, event.action),
            "source": event.source,
            "version": event.consent_version or "",
            "details": history.details(staff, event.details, names),
        }
        for event in reversed(consent.history(session, subscriber.id))
    ]
    sent = [
        {
            "edition_id": edition.id,
            "subject": edition.subject,
            "status": DELIVERY_LABELS.get(delivery.status, delivery.status),
            "at": when(request, staff, delivery.sent_at or delivery.created_at),
        }
        for delivery, edition in sent_to(session, subscriber.id)
    ]
    received = [
        {
            **row,
            "at": when(request, staff, datetime.fromisoformat(row["received_at"])),
            "channel": CHANNEL_LABELS.get(row["channel"], row["channel"]),
        }
        for row in reversed(receipts.received_by(session, subscriber.id))
    ]
    paused = subscriber.paused_until is not None and subscriber.paused_until > utcnow()
    return render(
        request,
        "admin/subscriber.html",
        staff=staff,
        title="Subscriber",
        person=subscriber,
        status_label=STATUS_LABELS.get(subscriber.status, subscriber.status),
        language_label=LANGUAGE_LABELS.get(subscriber.locale, subscriber.locale),
        created=when(request, staff, subscriber.created_at),
        confirmed=when(request, staff, subscriber.confirmed_at),
        unsubscribed=when(request, staff, subscriber.unsubscribed_at),
        paused_until=when(request, staff, subscriber.paused_until) if paused else "",
        suppressed=suppression_reason(session, settings, subscriber.email),
        preferences=preferences,
        ledger=ledger,
        sent=sent,
        received=received,
        can_change=may(staff.actor, Permission.SUBSCRIBERS),
        changeable=subscriber.status in ("active", "pending"),
        pauses=service.PAUSE_CHOICES,
        notice=notice_of(request, staff),
    )


def _edit_page(
    request: Request,
    staff: Staff,
    session: Session,
    subscriber: Subscriber,
    *,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/subscriber-edit.html",
        staff=staff,
        title="Change the preferences",
        status_code=400 if errors else 200,
        person=subscriber,
        chosen=service.preferences_of(subscriber),
        topics=topic_choices(session, staff.user.language),
        frequencies=FREQUENCY_LABELS,
        languages=LANGUAGE_LABELS,
        errors=errors or {},
    )


@router.get("/subscribers/{subscriber_id:int}/edit", response_class=HTMLResponse)
def edit_form(
    subscriber_id: int,
    request: Request,
    staff: Staff = page(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> HTMLResponse:
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    return _edit_page(request, staff, session, subscriber)


@router.post("/subscribers/{subscriber_id:int}/edit", response_model=None)
def edit(
    subscriber_id: int,
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    topics = _chosen_topics(fields, topic_choices(session, staff.user.language))
    origin = origin_of(request, staff)
    try:
        with session.begin_nested():
            changes.change_preferences(
                session,
                subscriber,
                origin,
                topics=topics,
                locale=fields.get("language", subscriber.locale),
                event_reminders=fields.get("event_reminders") == "on",
            )
    except (InvalidInputError, service.NotSubscribedError) as error:
        return _edit_page(request, staff, session, subscriber, errors={"language": str(error)})
    return _done(f"/admin/subscribers/{subscriber.id}", "saved")


@router.post("/subscribers/{subscriber_id:int}/pause", response_model=None)
def pause(
    subscriber_id: int,
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """Pause for 30, 90 or 180 days; 0 resumes."""
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    days = int(fields["days"]) if fields.get("days", "").isdigit() else 0
    try:
        with session.begin_nested():
            changes.pause(session, subscriber, origin_of(request, staff), days=days)
    except (InvalidInputError, service.NotSubscribedError) as error:
        return message(
            request,
            staff=staff,
            title="There is a problem",
            paragraphs=[str(error)],
            status_code=400,
            link=(f"/admin/subscribers/{subscriber.id}", "Back to the subscriber"),
        )
    return _done(f"/admin/subscribers/{subscriber.id}", "paused" if days else "resumed")


@router.post("/subscribers/{subscriber_id:int}/unsubscribe", response_model=None)
def unsubscribe(
    subscriber_id: int,
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> Response:
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    changes.unsubscribe(session, settings_of(request), subscriber, origin_of(request, staff))
    return _done(f"/admin/subscribers/{subscriber.id}", "unsubscribed")


@router.post("/subscribers/{subscriber_id:int}/export", response_model=None)
def export_person(
    subscriber_id: int,
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> Response:
    """Everything held about the person (GDPR access), as `dispatch subscribers export`."""
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    data = records.export_person(session, settings_of(request), subscriber.email)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="subscriber-{subscriber.id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/subscribers/{subscriber_id:int}/erase", response_class=HTMLResponse)
def erase_form(
    subscriber_id: int,
    request: Request,
    staff: Staff = page(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> HTMLResponse:
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    return _erase_page(request, staff, subscriber)


def _erase_page(
    request: Request, staff: Staff, subscriber: Subscriber, errors: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        "admin/subscriber-erase.html",
        staff=staff,
        title="Erase this subscriber",
        status_code=400 if errors else 200,
        person=subscriber,
        errors=errors or {},
    )


@router.post("/subscribers/{subscriber_id:int}/erase", response_model=None)
def erase(
    subscriber_id: int,
    request: Request,
    staff: Staff = form(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """Erase once the address is typed again: the step that makes it deliberate."""
    subscriber = _subscriber(session, subscriber_id)
    if subscriber is None:
        return _missing(request, staff)
    try:
        typed = normalise_email(fields.get("confirm", ""))
    except InvalidInputError:
        typed = ""
    if typed != subscriber.email:
        error = translate(staff.user.language, "Type the address exactly as shown to erase it.")
        return _erase_page(request, staff, subscriber, {"confirm": error})
    records.erase(session, settings_of(request), subscriber.email, origin_of(request, staff))
    return _done("/admin/subscribers", "erased")
