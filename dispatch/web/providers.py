"""Webhooks of email providers: bounces and complaints from SES (via SNS), Postmark, Mailgun,
SendGrid and Brevo, each verified as that provider documents (`delivery.bounces.providers`).

A refused request gets 401/403 (404 while the provider is not configured); an accepted one
200 with what it did, even when it proved no delivery, so that the provider does not retry a
request it would send again unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import requests
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.delivery.bounces import providers
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter(prefix="/hooks")
log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # SendGrid batches events; a megabyte is hundreds of them
MAX_CERTIFICATE = 64 * 1024


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


def _json(body: bytes | None) -> Any:
    if body is None:
        raise providers.WebhookRefusedError(413, "request too large")
    try:
        return json.loads(body)
    except ValueError:
        raise providers.WebhookRefusedError(400, "the body is not JSON") from None


def _answer(provider: str, work: Any) -> JSONResponse:
    try:
        result: providers.WebhookResult = work()
    except providers.WebhookRefusedError as refused:
        log.warning("%s webhook refused: %s", provider, refused.reason)
        return JSONResponse({"error": refused.reason}, status_code=refused.status)
    if result.unproven:
        log.info("%s webhook: %s event(s) proved no delivery of ours", provider, result.unproven)
    return JSONResponse(result.as_dict())


def fetch_https(url: str) -> bytes:
    """What SNS serves at a URL already checked against providers.sns_certificate_url."""
    response = requests.get(url, timeout=10, allow_redirects=False, stream=True)
    response.raise_for_status()
    data = response.raw.read(MAX_CERTIFICATE + 1, decode_content=True)
    if len(data) > MAX_CERTIFICATE:
        raise ValueError("an SNS certificate is a few kilobytes")
    return bytes(data)


def _objects(payload: Any) -> list[dict[str, Any]]:
    items = payload if isinstance(payload, list) else [payload]
    if not all(isinstance(item, dict) for item in items):
        raise providers.WebhookRefusedError(400, "expected a JSON object")
    return items


@router.post("/ses")
def ses_hook(
    request: Request,
    body: bytes | None = Depends(_body),
    session: Session = SessionDep,
    settings: Settings = Depends(settings_of),
) -> JSONResponse:
    """Amazon SNS: subscription confirmation, then SES bounce and complaint notifications."""

    def work() -> providers.WebhookResult:
        message = _objects(_json(body))[0]
        providers.verify_sns(message, settings, fetch_https)
        result = providers.WebhookResult()
        kind = message["Type"]
        if kind == "SubscriptionConfirmation":
            url = str(message.get("SubscribeURL", ""))
            if not url.startswith("http") or not _same_place(url, settings):
                raise providers.WebhookRefusedError(403, "unexpected SubscribeURL")
            fetch_https(url)
            log.info("SNS subscription to %s confirmed", message.get("TopicArn"))
            result.confirmed = True
            return result
        if kind != "Notification":
            result.ignored += 1
            return result
        try:
            notification = json.loads(str(message.get("Message", "")))
        except ValueError:
            notification = None
        if not isinstance(notification, dict):
            result.ignored += 1
            return result
        events = providers.ses_events(str(message.get("MessageId", "")), notification)
        return providers.apply_events(session, settings, events)

    return _answer("ses", work)


def _same_place(url: str, settings: Settings) -> bool:
    return re.match(settings.providers.sns_certificate_url, url) is not None


@router.post("/postmark")
def postmark_hook(
    request: Request,
    body: bytes | None = Depends(_body),
    session: Session = SessionDep,
    settings: Settings = Depends(settings_of),
) -> JSONResponse:
    def work() -> providers.WebhookResult:
        providers.verify_shared_secret(
            request.headers.get("authorization", ""),
            settings.providers.postmark_webhook_token,
            "postmark",
        )
        events = [e for item in _objects(_json(body)) for e in providers.postmark_events(item)]
        return providers.apply_events(session, settings, events)

    return _answer("postmark", work)


@router.post("/brevo")
def brevo_hook(
    request: Request,
    body: bytes | None = Depends(_body),
    session: Session = SessionDep,
    settings: Settings = Depends(settings_of),
) -> JSONResponse:
    def work() -> providers.WebhookResult:
        providers.verify_shared_secret(
            request.headers.get("authorization", ""),
            settings.providers.brevo_webhook_token,
            "brevo",
        )
        events = [e for item in _objects(_json(body)) for e in providers.brevo_events(item)]
        return providers.apply_events(session, settings, events)

    return _answer("brevo", work)


@router.post("/mailgun")
def mailgun_hook(
    body: bytes | None = Depends(_body),
    session: Session = SessionDep,
    settings: Settings = Depends(settings_of),
) -> JSONResponse:
    def work() -> providers.WebhookResult:
        payload = _objects(_json(body))[0]
        providers.verify_mailgun(payload, settings)
        return providers.apply_events(session, settings, providers.mailgun_events(payload))

    return _answer("mailgun", work)


@router.post("/sendgrid")
def sendgrid_hook(
    request: Request,
    body: bytes | None = Depends(_body),
    session: Session = SessionDep,
    settings: Settings = Depends(settings_of),
) -> JSONResponse:
    def work() -> providers.WebhookResult:
        if body is None:
            raise providers.WebhookRefusedError(413, "request too large")
        providers.verify_sendgrid(
            body,
            request.headers.get("x-twilio-email-event-webhook-signature", ""),
            request.headers.get("x-twilio-email-event-webhook-timestamp", ""),
            settings,
        )
        payload = _json(body)
        if not isinstance(payload, list):
            raise providers.WebhookRefusedError(400, "SendGrid posts a JSON array of events")
        return providers.apply_events(session, settings, providers.sendgrid_events(payload))

    return _answer("sendgrid", work)
