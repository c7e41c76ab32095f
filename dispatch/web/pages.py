"""What the public pages share: the page renderer, the visitor's
language, the robot and rate checks, and the messages several pages show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dispatch.audience import mail_requests, service
from dispatch.audience.consent import Origin
from dispatch.audience.models import FREQUENCIES
from dispatch.content.models import Topic
from dispatch.doorbell import ring_after_commit
from dispatch.web import csrf
from dispatch.web.clientip import client_ip
from dispatch.web.deps import settings_of
from dispatch.web.i18n_web import negotiate, normalise, translate

FIELD_IDS = {
    "email": "email",
    "name": "name",
    "topics": "topics",
    "consent": "consent",
    "form": "main",
}
# Token URLs must never be cached; the security headers themselves are set for every
# response by `dispatch.web.headers`.
PAGE_HEADERS = {"Cache-Control": "no-store"}


def origin(request: Request, source: str) -> Origin:
    return Origin(
        source=source,
        ip=client_ip(request, settings_of(request).web),
        user_agent=request.headers.get("user-agent"),
    )


def visitor_locale(request: Request, *, chosen: str | None = None) -> str:
    return (
        normalise(chosen)
        or normalise(request.query_params.get("lang"))
        or negotiate(request.headers.get("accept-language"))
    )


def ring_for_mail(session: Session, mail: service.MailRequest) -> None:
    """Have the email a request asked for sent once this request's unit of work commits."""
    if mail.mail is not None and mail.subscriber_id is not None:
        ring_after_commit(session, mail_requests.TASKS[mail.mail], mail.subscriber_id)


def frequency_labels(locale: str) -> list[tuple[str, str]]:
    labels = {
        "none": "Not interested",
        "immediately": "Immediately",
        "weekly": "Weekly",
        "monthly": "Monthly",
    }
    return [(value, translate(locale, label)) for value, label in labels.items()]


def page(
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
    settings = settings_of(request)
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
        "frequency_labels": frequency_labels(locale),
        "other_lang_url": None,
        **context,
    }
    if switch_language:
        other = "en" if locale == "fr" else "fr"
        # The home page's forms post elsewhere (/subscribe, /preferences/link): after an
        # error there, the other language is the form's page, which only a GET can show.
        path = "/" if template == "public/home.html" else request.url.path
        values.update(
            other_lang=other,
            other_lang_url=f"{path}?lang={other}",
            other_lang_label="English" if other == "en" else "Français",
        )
    cookie = csrf.cookie_for(request) if with_form else None
    if cookie is not None:
        values["csrf_token"] = csrf.form_token(settings, cookie)
    templates = request.app.state.templates
    response: HTMLResponse = templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=PAGE_HEADERS
    )
    if cookie is not None:
        csrf.set_cookie(response, cookie, secure=settings.app.base_url.startswith("https://"))
    return response


def form_is_genuine(request: Request, session: Session, fields: Mapping[str, str]) -> bool | None:
    """None: CSRF failed or the form was sent before (show the form again). False: a robot
    (accept and drop). True: go. The form's nonce is used up either way."""
    age = csrf.accept(session, settings_of(request), request, fields.get(csrf.FIELD_NAME))
    if age is None:
        return None
    if fields.get("website"):
        return False
    return age >= settings_of(request).web.form_min_seconds


def chosen_topics(
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


def chosen_letter(fields: Mapping[str, str]) -> bool | None:
    """The letter radio: True or False, None when the form did not carry it."""
    return {"yes": True, "no": False}.get(fields.get("letter", ""))


#: The error when a form asks for nothing at all: no letter and no topic.
NOTHING_CHOSEN = "Choose the letter or at least one topic. To receive nothing, unsubscribe instead."


def field_message(locale: str, field: str) -> str:
    messages = {
        "email": "Enter a valid email address, like name@example.org.",
        "name": "The name must be on one line and at most 200 characters long.",
    }
    return translate(locale, messages.get(field, "Choose a valid frequency for each topic."))


def expired_form(locale: str) -> str:
    return translate(
        locale, "This form has expired or was sent from another page. Please send it again."
    )


def too_many(request: Request, locale: str) -> HTMLResponse:
    return page(
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


def check_email_sent(request: Request, locale: str, email: str) -> HTMLResponse:
    settings = settings_of(request)
    return page(
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


def not_found(request: Request, status_code: int = 404, detail: str = "") -> HTMLResponse:
    """What a browser gets for an address with nothing behind it (or another HTTP refusal
    outside the API): a whole page in the visitor's language, not the framework's JSON."""
    locale = visitor_locale(request)
    if status_code == 404:
        title, paragraph = "Page not found", "There is nothing at this address."
    else:
        title, paragraph = "There is a problem", "This address cannot be used this way."
    return page(
        request,
        "public/message.html",
        locale=locale,
        title=title,
        status_code=status_code,
        with_form=False,
        paragraphs=[translate(locale, paragraph)],
        link_url=f"/?lang={locale}",
        link_label=translate(locale, "Back to the subscription page"),
    )


def invalid_link(request: Request, *, status_code: int = 404) -> HTMLResponse:
    locale = visitor_locale(request)
    return page(
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
