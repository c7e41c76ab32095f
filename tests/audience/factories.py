"""Audience rows for tests: subscribers in each state, through the real service functions."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from dispatch.audience import service, tokens
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.config import Settings

_seq = itertools.count(1)
WEB = Origin("web form", ip="192.0.2.10", user_agent="Mozilla/5.0 (test)")


def new_email() -> str:
    return f"abonnee{next(_seq)}@example.org"


def pending(
    session: Session,
    settings: Settings,
    *,
    email: str | None = None,
    topics: dict[str, str] | None = None,
    locale: str = "fr",
) -> Subscriber:
    request = service.SubscriptionRequest(
        email=email or new_email(),
        name="Camille Martin",
        locale=locale,
        topics=topics if topics is not None else {"blog": "weekly"},
    )
    mail = service.request_subscription(session, settings, request, WEB)
    assert mail.subscriber_id is not None
    subscriber = session.get(Subscriber, mail.subscriber_id)
    assert subscriber is not None
    return subscriber


def active(session: Session, settings: Settings, **fields: object) -> Subscriber:
    subscriber = pending(session, settings, **fields)  # type: ignore[arg-type]
    token = tokens.make_confirm_token(settings, subscriber.id, subscriber.confirm_nonce)
    result = service.confirm(session, settings, token, WEB)
    assert result.status == "confirmed"
    return subscriber
