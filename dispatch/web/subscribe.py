"""The subscription page: subscribe (double opt-in) and "email me my link".

Both answer the same whatever the address, so that the form tells nobody who subscribes;
"email me my link" also takes the same time, since it only queues the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dispatch.audience import abuse, service
from dispatch.audience.addresses import (
    InternationalAddressError,
    InvalidInputError,
    clean_text,
    needs_smtputf8,
    normalise_email,
)
from dispatch.audience.consent import CURRENT_CONSENT_VERSION, consent_text
from dispatch.config import Settings
from dispatch.delivery.smtp import relay_offers_smtputf8
from dispatch.web.deps import FormDep, SessionDep, settings_of
from dispatch.web.i18n_web import normalise, translate
from dispatch.web.pages import (
    NOTHING_CHOSEN,
    check_email_sent,
    chosen_letter,
    chosen_topics,
    expired_form,
    field_message,
    form_is_genuine,
    origin,
    page,
    ring_for_mail,
    too_many,
    visitor_locale,
)

router = APIRouter()
INTERNATIONAL_REFUSED = (
    "This address has accented or non-Latin letters before the @, and our mail server cannot "
    "send to such addresses yet. Please use another address."
)


def _relay_takes(raw: str, settings: Settings) -> bool:
    """Whether the mail path can deliver to `raw`'s local part; asked only when it needs
    SMTPUTF8, so that plain addresses cost nothing."""
    try:
        email = normalise_email(raw)
    except InvalidInputError:
        return False
    return needs_smtputf8(email) and relay_offers_smtputf8(settings)


def _home(
    request: Request,
    session: Session,
    *,
    locale: str,
    form: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    defaults = {
        "email": "",
        "name": "",
        "letter": True,
        "topics": {},
        "language": locale,
        "consent": False,
    }
    return page(
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
    return _home(request, session, locale=visitor_locale(request))


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = settings_of(request)
    # Before the first query: asking the relay is network I/O, never inside a transaction.
    smtputf8 = _relay_takes(fields.get("email", "")[:320], settings)
    page_locale = visitor_locale(request, chosen=fields.get("page_lang"))
    locale = normalise(fields.get("language")) or page_locale
    topics = service.topics_in_order(session)
    chosen, topic_error = chosen_topics(topics, fields)
    letter = chosen_letter(fields)
    form: dict[str, Any] = {
        "email": fields.get("email", "")[:320],
        "name": fields.get("name", "")[:300],
        "letter": letter is not False,  # included unless the person says no
        "topics": chosen,
        "language": locale,
        "consent": fields.get("consent") == "yes",
    }
    genuine = form_is_genuine(request, session, fields)
    if genuine is None:
        return _home(
            request,
            session,
            locale=page_locale,
            form=form,
            errors={"form": expired_form(page_locale)},
            status_code=400,
        )
    # Refused posts count too: the request's unit of work commits the counters whatever
    # the page says.
    if not abuse.allow_post(session, settings, "subscribe", origin(request, "").ip):
        return too_many(request, page_locale)
    if not genuine:
        # A robot: answer exactly as for a person, do nothing.
        return check_email_sent(request, page_locale, form["email"].strip())
    errors: dict[str, str] = {}
    for name, check in (("email", normalise_email), ("name", lambda v: clean_text(v, "name"))):
        try:
            check(form[name])
        except InvalidInputError:
            errors[name] = field_message(page_locale, name)
    if topic_error:
        errors["topics"] = translate(page_locale, topic_error)
    elif not form["letter"] and not chosen:
        errors["topics"] = translate(page_locale, NOTHING_CHOSEN)
    if not form["consent"]:
        errors["consent"] = translate(page_locale, "Tick the box to agree to receive our emails.")
    wanted = service.SubscriptionRequest(
        email=form["email"],
        name=form["name"],
        locale=locale,
        topics=chosen,
        letter=form["letter"],
        consent_version=fields.get("consent_version") or CURRENT_CONSENT_VERSION,
        smtputf8=smtputf8,
    )
    if not errors:
        try:
            with session.begin_nested():
                mail = service.request_subscription(
                    session, settings, wanted, origin(request, "web form")
                )
        except InternationalAddressError:
            errors["email"] = translate(page_locale, INTERNATIONAL_REFUSED)
        except InvalidInputError as exc:
            errors[exc.field] = field_message(page_locale, exc.field)
    if errors:
        return _home(
            request, session, locale=page_locale, form=form, errors=errors, status_code=400
        )
    ring_for_mail(session, mail)
    email = normalise_email(form["email"])
    return check_email_sent(request, locale, email)


@router.post("/preferences/link", response_class=HTMLResponse)
def request_link(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = settings_of(request)
    locale = visitor_locale(request, chosen=fields.get("page_lang"))
    email = fields.get("email", "").strip()[:320]
    genuine = form_is_genuine(request, session, fields)
    if genuine is None:
        return _home(
            request, session, locale=locale, errors={"form": expired_form(locale)}, status_code=400
        )
    if not abuse.allow_post(session, settings, "link", origin(request, "").ip):
        return too_many(request, locale)
    if genuine:
        try:
            # Only written down: a worker decides what to send, so this answer takes the
            # same time whether the address is subscribed or not.
            service.queue_link_request(session, email)
        except InvalidInputError:
            return _home(
                request,
                session,
                locale=locale,
                errors={"email": field_message(locale, "email")},
                status_code=400,
            )
    return page(
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
