"""Pages behind a signed link: confirm a subscription, manage preferences, unsubscribe.

No accounts: the signed token identifies the person. GET pages only show a button (mail
scanners follow every link); only a POST changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from dispatch.audience import mail_requests, service, tokens
from dispatch.audience.consent import CURRENT_CONSENT_VERSION, Origin, consent_text
from dispatch.audience.models import Subscriber
from dispatch.db import utcnow
from dispatch.doorbell import ring_after_commit
from dispatch.web import csrf
from dispatch.web.deps import FormDep, SessionDep, settings_of
from dispatch.web.i18n_web import normalise, translate
from dispatch.web.pages import (
    NOTHING_CHOSEN,
    PAGE_HEADERS,
    check_email_sent,
    chosen_letter,
    chosen_topics,
    expired_form,
    field_message,
    invalid_link,
    origin,
    page,
    ring_for_mail,
    visitor_locale,
)

router = APIRouter()

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


CONFIRM_TITLES = {
    "pending": ("Confirm your subscription", 200),
    "confirmed": ("Subscription confirmed", 200),
    "already": ("Already confirmed", 200),
    "expired": ("Link expired", 410),
    "invalid": ("Link not valid", 400),
}


def _confirm_page(
    request: Request,
    token: str,
    state: str,
    subscriber: Subscriber | None,
    *,
    errors: Mapping[str, str] | None = None,
    status_code: int | None = None,
) -> HTMLResponse:
    settings = settings_of(request)
    locale = subscriber.locale if subscriber else visitor_locale(request)
    title, default_status = CONFIRM_TITLES[state]
    return page(
        request,
        "public/confirm.html",
        locale=locale,
        title=title,
        status_code=status_code or default_status,
        with_form=state == "pending",
        state=state,
        email=subscriber.email if subscriber else "",
        action=f"/confirm/{token}",
        preferences_url=(
            tokens.preferences_url(settings, subscriber.id).removeprefix(
                settings.app.base_url.rstrip("/")
            )
            if subscriber
            else ""
        ),
        errors=dict(errors or {}),
    )


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(token: str, request: Request, session: Session = SessionDep) -> HTMLResponse:
    # Link scanners follow GET links: this only shows a button.
    result = service.peek_confirm(session, settings_of(request), token)
    state = "pending" if result.status == "confirmed" else result.status
    return _confirm_page(request, token, state, result.subscriber)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = settings_of(request)
    peek = service.peek_confirm(session, settings, token)
    if (
        peek.status == "confirmed"
        and csrf.accept(session, settings, request, fields.get(csrf.FIELD_NAME)) is None
    ):
        locale = peek.subscriber.locale if peek.subscriber else "fr"
        return _confirm_page(
            request,
            token,
            "pending",
            peek.subscriber,
            errors={"csrf": expired_form(locale)},
            status_code=400,
        )
    result = service.confirm(session, settings, token, origin(request, "web confirm link"))
    if result.status == "confirmed" and result.subscriber is not None:
        ring_after_commit(session, mail_requests.TASKS["welcome"], result.subscriber.id)
    return _confirm_page(request, token, result.status, result.subscriber)


def _subscriber_from(
    request: Request, session: Session, purpose: tokens.Purpose, token: str
) -> Subscriber | None:
    try:
        return service.subscriber_for_link(session, settings_of(request), purpose, token)
    except tokens.TokenError:
        return None


def _preferences_page(
    request: Request,
    session: Session,
    token: str,
    subscriber: Subscriber,
    *,
    notice: str | None = None,
    errors: Mapping[str, str] | None = None,
    form: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    locale = subscriber.locale
    paused = subscriber.paused_until
    if paused is not None and paused <= utcnow():
        paused = None
    return page(
        request,
        "public/preferences.html",
        locale=locale,
        title="Your subscription",
        status_code=status_code,
        status=subscriber.status,
        email=subscriber.email,
        topics=service.topics_in_order(session),
        form=form
        or {
            "letter": subscriber.letter,
            "topics": service.preferences_of(subscriber),
            "language": locale,
            "event_reminders": subscriber.event_reminders,
        },
        paused_until=format_date(paused, format="long", locale=locale) if paused else None,
        notice=translate(locale, notice) if notice else None,
        errors=dict(errors or {}),
        action=f"/preferences/{token}",
        unsubscribe_action="/unsubscribe/"
        + tokens.make_token(settings, "unsubscribe", subscriber.id),
        consent_text=consent_text(CURRENT_CONSENT_VERSION, locale, settings.branding.org_name),
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(token: str, request: Request, session: Session = SessionDep) -> HTMLResponse:
    subscriber = _subscriber_from(request, session, "preferences", token)
    if subscriber is None:
        return invalid_link(request)
    notice = "Your preferences are saved." if request.query_params.get("saved") else None
    return _preferences_page(request, session, token, subscriber, notice=notice)


@router.post("/preferences/{token}", response_model=None)
def preferences_save(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> Response:
    settings = settings_of(request)
    subscriber = _subscriber_from(request, session, "preferences", token)
    if subscriber is None:
        return invalid_link(request)
    if csrf.accept(session, settings, request, fields.get(csrf.FIELD_NAME)) is None:
        return _preferences_page(
            request,
            session,
            token,
            subscriber,
            errors={"form": expired_form(subscriber.locale)},
            status_code=400,
        )
    came_from = origin(request, "web preferences")
    if fields.get("action") == "resubscribe":
        return _resubscribe(request, session, subscriber, came_from)
    topics = service.topics_in_order(session)
    chosen, topic_error = chosen_topics(topics, fields)
    letter = chosen_letter(fields)
    locale = normalise(fields.get("language")) or subscriber.locale
    reminders = (
        fields.get("event_reminders") == "1" if fields.get("event_reminders_shown") else None
    )
    pause = fields.get("pause", "keep")
    nothing = not chosen and not (subscriber.letter if letter is None else letter)
    if (
        topic_error
        or nothing
        or pause not in ("keep", "0", *(str(d) for d in service.PAUSE_CHOICES))
    ):
        message = (
            translate(subscriber.locale, NOTHING_CHOSEN)
            if nothing and not topic_error
            else field_message(subscriber.locale, "topics")
        )
        return _preferences_page(
            request,
            session,
            token,
            subscriber,
            errors={"topics": message},
            form={
                "letter": subscriber.letter if letter is None else letter,
                "topics": chosen,
                "language": locale,
                "event_reminders": subscriber.event_reminders if reminders is None else reminders,
            },
            status_code=400,
        )
    try:
        with session.begin_nested():
            service.update_preferences(
                session,
                subscriber,
                came_from,
                topics=chosen,
                locale=locale,
                pause_days=0 if pause == "keep" else int(pause),
                keep_pause=pause == "keep",
            )
            if letter is not None:
                service.set_letter(session, subscriber, came_from, on=letter)
            if reminders is not None:
                service.set_event_reminders(session, subscriber, came_from, on=reminders)
    except service.NotSubscribedError:
        session.refresh(subscriber)
        return _preferences_page(request, session, token, subscriber, status_code=409)
    # Post/redirect/get: reloading the page does not post the form again.
    return Response(
        status_code=303,
        headers={"Location": f"/preferences/{token}?saved=1", **PAGE_HEADERS},
    )


def _resubscribe(
    request: Request, session: Session, subscriber: Subscriber, came_from: Origin
) -> HTMLResponse:
    """From the preference centre of a lapsed subscription: double opt-in, again."""
    settings = settings_of(request)
    if subscriber.status == "active":
        return invalid_link(request, status_code=409)
    mail = service.request_subscription(
        session,
        settings,
        service.SubscriptionRequest(
            email=subscriber.email,
            name=subscriber.name,
            locale=subscriber.locale,
            topics=service.preferences_of(subscriber),
            letter=subscriber.letter,
        ),
        came_from,
    )
    ring_for_mail(session, mail)
    return check_email_sent(request, subscriber.locale, subscriber.email)


def _unsubscribe_page(
    request: Request, token: str, subscriber: Subscriber | None, state: str
) -> HTMLResponse:
    settings = settings_of(request)
    locale = subscriber.locale if subscriber else visitor_locale(request)
    titles = {"ask": "Unsubscribe", "done": "You are unsubscribed", "invalid": "Link not valid"}
    prefs = ""
    if subscriber is not None:
        prefs = "/preferences/" + tokens.make_token(settings, "preferences", subscriber.id)
    return page(
        request,
        "public/unsubscribe.html",
        locale=locale,
        title=titles[state],
        status_code=400 if state == "invalid" else 200,
        with_form=False,
        state=state,
        email=subscriber.email if subscriber else "",
        action=f"/unsubscribe/{token}",
        preferences_url=prefs,
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, request: Request, session: Session = SessionDep) -> HTMLResponse:
    """Shows a button and changes nothing: mail scanners GET every link."""
    try:
        subscriber_id = tokens.read_token(settings_of(request), "unsubscribe", token)
    except tokens.TokenError:
        return _unsubscribe_page(request, token, None, "invalid")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return invalid_link(request)
    state = "done" if subscriber.status in ("unsubscribed", "bounced", "complained") else "ask"
    return _unsubscribe_page(request, token, subscriber, state)


@router.post("/unsubscribe/{token}", response_model=None)
def unsubscribe(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> Response:
    """The page's button and RFC 8058 one-click: the signed token is the authority.

    One-click posts (`List-Unsubscribe=One-Click`) come from mail providers' servers: they get
    a 200 with a short text, no cookie, no redirect; a second post is answered the same way.
    """
    one_click = fields.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    settings = settings_of(request)
    try:
        subscriber_id = tokens.read_token(settings, "unsubscribe", token)
    except tokens.TokenError:
        if one_click:
            return PlainTextResponse("Invalid unsubscribe link.\n", status_code=400)
        return _unsubscribe_page(request, token, None, "invalid")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        source = "one-click (RFC 8058)" if one_click else "web unsubscribe page"
        service.unsubscribe(session, settings, subscriber, origin(request, source))
    if one_click:
        return PlainTextResponse("Unsubscribed.\n", headers={"Cache-Control": "no-store"})
    if subscriber is None:
        return invalid_link(request)
    return _unsubscribe_page(request, token, subscriber, "done")


STAY_TITLES = {
    "ask": "Do you want to stay?",
    "done": "You stay subscribed",
    "gone": "Link not valid",
}


def _stay_page(
    request: Request,
    token: str,
    subscriber: Subscriber,
    state: str,
    *,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    return page(
        request,
        "public/stay.html",
        locale=subscriber.locale,
        title=STAY_TITLES[state],
        status_code=status_code,
        with_form=state == "ask",
        state=state,
        email=subscriber.email,
        action=f"/stay/{token}",
        preferences_url="/preferences/" + tokens.make_token(settings, "preferences", subscriber.id),
        errors=dict(errors or {}),
    )


@router.get("/stay/{token}", response_class=HTMLResponse)
def stay_page(token: str, request: Request, session: Session = SessionDep) -> HTMLResponse:
    """The re-permission email's link: a button only (mail scanners GET every link)."""
    subscriber = _subscriber_from(request, session, "stay", token)
    if subscriber is None:
        return invalid_link(request)
    if subscriber.status != "active":
        return _stay_page(request, token, subscriber, "gone", status_code=410)
    return _stay_page(request, token, subscriber, "ask")


@router.post("/stay/{token}", response_class=HTMLResponse)
def stay(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    """« Je reste abonné·e »: recorded in the consent ledger, and the purge passes them by."""
    settings = settings_of(request)
    subscriber = _subscriber_from(request, session, "stay", token)
    if subscriber is None:
        return invalid_link(request)
    if subscriber.status != "active":
        return _stay_page(request, token, subscriber, "gone", status_code=410)
    if csrf.accept(session, settings, request, fields.get(csrf.FIELD_NAME)) is None:
        return _stay_page(
            request,
            token,
            subscriber,
            "ask",
            errors={"csrf": expired_form(subscriber.locale)},
            status_code=400,
        )
    service.stay(session, subscriber, origin(request, "web stay page"))
    return _stay_page(request, token, subscriber, "done")
