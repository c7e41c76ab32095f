"""Public pages for subscribers: subscribe, confirm, preferences, unsubscribe (and RFC 8058).

No accounts: signed links identify the person. Every page works without JavaScript, in
French or English. Emails are enqueued only after the request's transaction commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from dispatch.audience import abuse, service, tokens
from dispatch.audience.addresses import InvalidInputError, clean_text, normalise_email
from dispatch.audience.consent import CURRENT_CONSENT_VERSION, Origin, consent_text
from dispatch.audience.models import FREQUENCIES, Subscriber
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.db import utcnow
from dispatch.web import csrf
from dispatch.web.app import SessionDep
from dispatch.web.i18n_web import negotiate, normalise, translate

router = APIRouter()

MAIL_TASKS = {"confirm": "audience.send_confirmation", "link": "audience.send_preferences_link"}
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
FIELD_IDS = {
    "email": "email",
    "name": "name",
    "topics": "topics",
    "consent": "consent",
    "form": "main",
}
SECURITY_HEADERS = {
    # Token URLs must never leak to another site, be cached, or be framed (clickjacking).
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form (urlencoded or multipart) as text fields; files are ignored."""
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


FormDep = Depends(form_fields)


# --- helpers ----------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _origin(request: Request, source: str) -> Origin:
    return Origin(
        source=source,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _visitor_locale(request: Request, *, chosen: str | None = None) -> str:
    return (
        normalise(chosen)
        or normalise(request.query_params.get("lang"))
        or negotiate(request.headers.get("accept-language"))
    )


def _enqueue_after_commit(request: Request, session: Session, mail: service.MailRequest) -> None:
    session.commit()
    if mail.mail is not None and mail.subscriber_id is not None:
        request.app.state.enqueue(MAIL_TASKS[mail.mail], mail.subscriber_id)


def _frequency_labels(locale: str) -> list[tuple[str, str]]:
    labels = {
        "none": "Not interested",
        "immediately": "Immediately",
        "weekly": "Weekly",
        "monthly": "Monthly",
    }
    return [(value, translate(locale, label)) for value, label in labels.items()]


def _page(
    request: Request,
    template: str,
    *,
    locale: str,
    title: str,
    status_code: int = 200,
    with_form: bool = True,
    switch_language: bool = False,
    **context: Any,
) -> HTMLResponse:
    settings = _settings(request)
    branding = settings.branding
    values: dict[str, Any] = {
        "_": lambda msgid: translate(locale, msgid),
        "lang": locale,
        "page_title": translate(locale, title),
        "org_name": branding.org_name,
        "site_url": branding.site_url,
        "postal_address": branding.postal_address,
        "home_url": f"/?lang={locale}",
        "errors": {},
        "field_ids": FIELD_IDS,
        "frequency_labels": _frequency_labels(locale),
        "other_lang_url": None,
        **context,
    }
    if switch_language:
        other = "en" if locale == "fr" else "fr"
        values.update(
            other_lang=other,
            other_lang_url=f"{request.url.path}?lang={other}",
            other_lang_label="English" if other == "en" else "Français",
        )
    cookie = csrf.cookie_for(request) if with_form else None
    if cookie is not None:
        values["csrf_token"] = csrf.form_token(settings, cookie)
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=SECURITY_HEADERS
    )
    if cookie is not None:
        csrf.set_cookie(response, cookie, secure=settings.app.base_url.startswith("https://"))
    return response


def _form_is_genuine(request: Request, fields: Mapping[str, str]) -> bool | None:
    """None: CSRF failed (show the form again). False: a robot (accept and drop). True: go."""
    age = csrf.form_age(_settings(request), request, fields.get(csrf.FIELD_NAME))
    if age is None:
        return None
    if fields.get("website"):
        return False
    minimum = getattr(request.app.state, "form_min_seconds", abuse.MIN_FORM_SECONDS)
    return age >= minimum


def _chosen_topics(
    topics: list[Topic], fields: Mapping[str, str]
) -> tuple[dict[str, str], str | None]:
    chosen: dict[str, str] = {}
    for topic in topics:
        value = fields.get(f"topic-{topic.slug}", "none")
        if value == "none":
            continue
        if value not in FREQUENCIES:
            return chosen, "Choose a valid frequency for each topic."
        chosen[topic.slug] = value
    return chosen, None


def _too_many(request: Request, locale: str) -> HTMLResponse:
    return _page(
        request,
        "public/message.html",
        locale=locale,
        title="Too many requests",
        status_code=429,
        with_form=False,
        paragraphs=[
            translate(
                locale,
                "Too many forms were sent from your connection in the last hour. "
                "Please try again later.",
            )
        ],
        link_url=f"/?lang={locale}",
        link_label=translate(locale, "Back to the subscription page"),
    )


# --- subscribe --------------------------------------------------------------------------------


def _home(
    request: Request,
    session: Session,
    *,
    locale: str,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = _settings(request)
    defaults = {"email": "", "name": "", "topics": {}, "language": locale, "consent": False}
    return _page(
        request,
        "public/home.html",
        locale=locale,
        title="Subscribe to our newsletter",
        status_code=status_code,
        switch_language=True,
        topics=service.topics_in_order(session),
        form={**defaults, **(form or {})},
        errors=dict(errors or {}),
        consent_version=CURRENT_CONSENT_VERSION,
        consent_text=consent_text(CURRENT_CONSENT_VERSION, locale, settings.branding.org_name),
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Session = SessionDep) -> HTMLResponse:
    return _home(request, session, locale=_visitor_locale(request))


def _check_email_sent(request: Request, locale: str, email: str) -> HTMLResponse:
    settings = _settings(request)
    return _page(
        request,
        "public/message.html",
        locale=locale,
        title="Check your inbox",
        with_form=False,
        paragraphs=[
            translate(
                locale,
                "We have sent an email to %(email)s. Open it and follow its link to confirm "
                "your subscription, or to manage it if you were already subscribed.",
            )
            % {"email": email},
            translate(locale, "The confirmation link is valid for %(days)s days.")
            % {"days": settings.security.confirm_max_age_days},
            translate(
                locale,
                "Nothing after a few minutes? Look in your spam folder. For your protection, we "
                "send at most a few emails per hour to the same address.",
            ),
        ],
        link_url=f"/?lang={locale}",
        link_label=translate(locale, "Back to the subscription page"),
    )


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = _settings(request)
    page_locale = _visitor_locale(request, chosen=fields.get("page_lang"))
    locale = normalise(fields.get("language")) or page_locale
    topics = service.topics_in_order(session)
    chosen, topic_error = _chosen_topics(topics, fields)
    form: dict[str, Any] = {
        "email": fields.get("email", "")[:320],
        "name": fields.get("name", "")[:300],
        "topics": chosen,
        "language": locale,
        "consent": fields.get("consent") == "yes",
    }
    genuine = _form_is_genuine(request, fields)
    if genuine is None:
        message = translate(
            page_locale,
            "This form has expired or was sent from another page. Please send it again.",
        )
        return _home(
            request,
            session,
            locale=page_locale,
            form=form,
            errors={"form": message},
            status_code=400,
        )
    if not abuse.allow_post(session, settings, "subscribe", _origin(request, "").ip):
        session.commit()
        return _too_many(request, page_locale)
    if not genuine:
        # A robot: answer exactly as for a person, do nothing.
        return _check_email_sent(request, page_locale, form["email"].strip())
    errors: dict[str, str] = {}
    for name, check in (("email", normalise_email), ("name", lambda v: clean_text(v, "name"))):
        try:
            check(form[name])
        except InvalidInputError:
            errors[name] = _field_message(page_locale, name)
    if topic_error:
        errors["topics"] = translate(page_locale, topic_error)
    if not form["consent"]:
        errors["consent"] = translate(page_locale, "Tick the box to agree to receive our emails.")
    wanted = service.SubscriptionRequest(
        email=form["email"],
        name=form["name"],
        locale=locale,
        topics=chosen,
        consent_version=fields.get("consent_version") or CURRENT_CONSENT_VERSION,
    )
    if not errors:
        try:
            with session.begin_nested():
                mail = service.request_subscription(
                    session, settings, wanted, _origin(request, "web form")
                )
        except InvalidInputError as exc:
            errors[exc.field] = _field_message(page_locale, exc.field)
    if errors:
        session.commit()  # the rate-limit counters count refused posts too
        return _home(
            request, session, locale=page_locale, form=form, errors=errors, status_code=400
        )
    _enqueue_after_commit(request, session, mail)
    email = normalise_email(form["email"])
    return _check_email_sent(request, locale, email)


def _field_message(locale: str, field: str) -> str:
    messages = {
        "email": "Enter a valid email address, like name@example.org.",
        "name": "The name must be on one line and at most 200 characters long.",
    }
    return translate(locale, messages.get(field, "Choose a valid frequency for each topic."))


@router.post("/preferences/link", response_class=HTMLResponse)
def request_link(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = _settings(request)
    locale = _visitor_locale(request, chosen=fields.get("page_lang"))
    email = fields.get("email", "").strip()[:320]
    genuine = _form_is_genuine(request, fields)
    if genuine is None:
        message = translate(
            locale, "This form has expired or was sent from another page. Please send it again."
        )
        return _home(request, session, locale=locale, errors={"form": message}, status_code=400)
    if not abuse.allow_post(session, settings, "link", _origin(request, "").ip):
        session.commit()
        return _too_many(request, locale)
    mail = service.MailRequest(None, None)
    if genuine:
        try:
            mail = service.request_link(session, settings, email)
        except InvalidInputError:
            session.commit()
            return _home(
                request,
                session,
                locale=locale,
                errors={"email": _field_message(locale, "email")},
                status_code=400,
            )
    _enqueue_after_commit(request, session, mail)
    return _page(
        request,
        "public/message.html",
        locale=locale,
        title="Your link is on its way",
        with_form=False,
        paragraphs=[
            translate(
                locale,
                "If %(email)s is subscribed, we have sent it an email with a link to manage "
                "the subscription.",
            )
            % {"email": email}
        ],
        link_url=f"/?lang={locale}",
        link_label=translate(locale, "Back to the subscription page"),
    )


# --- confirm ----------------------------------------------------------------------------------

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
    settings = _settings(request)
    locale = subscriber.locale if subscriber else _visitor_locale(request)
    title, default_status = CONFIRM_TITLES[state]
    return _page(
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
    result = service.peek_confirm(session, _settings(request), token)
    state = "pending" if result.status == "confirmed" else result.status
    return _confirm_page(request, token, state, result.subscriber)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = _settings(request)
    peek = service.peek_confirm(session, settings, token)
    if (
        peek.status == "confirmed"
        and csrf.form_age(settings, request, fields.get(csrf.FIELD_NAME)) is None
    ):
        locale = peek.subscriber.locale if peek.subscriber else "fr"
        message = translate(
            locale, "This form has expired or was sent from another page. Please send it again."
        )
        return _confirm_page(
            request, token, "pending", peek.subscriber, errors={"csrf": message}, status_code=400
        )
    result = service.confirm(session, settings, token, _origin(request, "web confirm link"))
    session.commit()
    if result.status == "confirmed" and result.subscriber is not None:
        request.app.state.enqueue("audience.send_welcome", result.subscriber.id)
    return _confirm_page(request, token, result.status, result.subscriber)


# --- preferences ------------------------------------------------------------------------------


def _subscriber_from(
    request: Request, session: Session, purpose: tokens.Purpose, token: str
) -> Subscriber | None:
    try:
        return service.subscriber_for_link(session, _settings(request), purpose, token)
    except tokens.TokenError:
        return None


def _invalid_link(request: Request, *, status_code: int = 404) -> HTMLResponse:
    locale = _visitor_locale(request)
    return _page(
        request,
        "public/message.html",
        locale=locale,
        title="Link not valid",
        status_code=status_code,
        with_form=False,
        paragraphs=[
            translate(
                locale,
                "This link is not valid. It may have been copied incompletely, or the "
                "subscription it was for no longer exists.",
            )
        ],
        link_url=f"/?lang={locale}",
        link_label=translate(locale, "Back to the subscription page"),
    )


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
    settings = _settings(request)
    locale = subscriber.locale
    paused = subscriber.paused_until
    if paused is not None and paused <= utcnow():
        paused = None
    return _page(
        request,
        "public/preferences.html",
        locale=locale,
        title="Your subscription",
        status_code=status_code,
        status=subscriber.status,
        email=subscriber.email,
        topics=service.topics_in_order(session),
        form=form or {"topics": service.preferences_of(subscriber), "language": locale},
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
        return _invalid_link(request)
    notice = "Your preferences are saved." if request.query_params.get("saved") else None
    return _preferences_page(request, session, token, subscriber, notice=notice)


@router.post("/preferences/{token}", response_model=None)
def preferences_save(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> Response:
    settings = _settings(request)
    subscriber = _subscriber_from(request, session, "preferences", token)
    if subscriber is None:
        return _invalid_link(request)
    if csrf.form_age(settings, request, fields.get(csrf.FIELD_NAME)) is None:
        message = translate(
            subscriber.locale,
            "This form has expired or was sent from another page. Please send it again.",
        )
        return _preferences_page(
            request, session, token, subscriber, errors={"form": message}, status_code=400
        )
    origin = _origin(request, "web preferences")
    if fields.get("action") == "resubscribe":
        return _resubscribe(request, session, subscriber, origin)
    topics = service.topics_in_order(session)
    chosen, topic_error = _chosen_topics(topics, fields)
    locale = normalise(fields.get("language")) or subscriber.locale
    pause = fields.get("pause", "keep")
    if topic_error or pause not in ("keep", "0", *(str(d) for d in service.PAUSE_CHOICES)):
        return _preferences_page(
            request,
            session,
            token,
            subscriber,
            errors={"topics": _field_message(subscriber.locale, "topics")},
            form={"topics": chosen, "language": locale},
            status_code=400,
        )
    try:
        service.update_preferences(
            session,
            subscriber,
            origin,
            topics=chosen,
            locale=locale,
            pause_days=0 if pause == "keep" else int(pause),
            keep_pause=pause == "keep",
        )
    except service.NotSubscribedError:
        session.rollback()
        subscriber = _subscriber_from(request, session, "preferences", token)
        assert subscriber is not None
        return _preferences_page(request, session, token, subscriber, status_code=409)
    session.commit()
    # Post/redirect/get: reloading the page does not post the form again.
    return Response(
        status_code=303,
        headers={"Location": f"/preferences/{token}?saved=1", **SECURITY_HEADERS},
    )


def _resubscribe(
    request: Request, session: Session, subscriber: Subscriber, origin: Origin
) -> HTMLResponse:
    """From the preference centre of a lapsed subscription: double opt-in, again."""
    settings = _settings(request)
    if subscriber.status == "active":
        return _invalid_link(request, status_code=409)
    mail = service.request_subscription(
        session,
        settings,
        service.SubscriptionRequest(
            email=subscriber.email,
            name=subscriber.name,
            locale=subscriber.locale,
            topics=service.preferences_of(subscriber),
        ),
        origin,
    )
    _enqueue_after_commit(request, session, mail)
    return _check_email_sent(request, subscriber.locale, subscriber.email)


# --- unsubscribe ------------------------------------------------------------------------------


def _unsubscribe_page(
    request: Request, token: str, subscriber: Subscriber | None, state: str
) -> HTMLResponse:
    settings = _settings(request)
    locale = subscriber.locale if subscriber else _visitor_locale(request)
    titles = {"ask": "Unsubscribe", "done": "You are unsubscribed", "invalid": "Link not valid"}
    prefs = ""
    if subscriber is not None:
        prefs = "/preferences/" + tokens.make_token(settings, "preferences", subscriber.id)
    return _page(
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
        subscriber_id = tokens.read_token(_settings(request), "unsubscribe", token)
    except tokens.TokenError:
        return _unsubscribe_page(request, token, None, "invalid")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return _invalid_link(request)
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
    settings = _settings(request)
    try:
        subscriber_id = tokens.read_token(settings, "unsubscribe", token)
    except tokens.TokenError:
        if one_click:
            return PlainTextResponse("Invalid unsubscribe link.\n", status_code=400)
        return _unsubscribe_page(request, token, None, "invalid")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is not None:
        source = "one-click (RFC 8058)" if one_click else "web unsubscribe page"
        service.unsubscribe(session, settings, subscriber, _origin(request, source))
    session.commit()
    if one_click:
        return PlainTextResponse("Unsubscribed.\n", headers={"Cache-Control": "no-store"})
    if subscriber is None:
        return _invalid_link(request)
    return _unsubscribe_page(request, token, subscriber, "done")
