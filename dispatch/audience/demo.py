"""Demo subscribers: a handful of readers with varied topics, rhythms, languages and states."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience import records, service
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.db import utcnow

# email, name, language, topics; then a state to leave them in.
READERS: list[tuple[str, str, str, dict[str, str], str]] = [
    (
        "claire.agent@example.org",
        "Claire Martin",
        "fr",
        {"blog": "immediately", "events": "immediately"},
        "active",
    ),
    ("yannick.elu@example.org", "Yannick Le Gall", "fr", {"blog": "weekly"}, "active"),
    (
        "sophie.designer@example.org",
        "Sophie Bernard",
        "fr",
        {"onaime": "weekly", "controverse": "weekly", "mustread": "immediately"},
        "active",
    ),
    (
        "karim.lab@example.org",
        "Karim Haddad",
        "fr",
        {"blog": "monthly", "events": "weekly", "mustread": "monthly"},
        "active",
    ),
    (
        "emma.researcher@example.org",
        "Emma Clarke",
        "en",
        {"blog": "weekly", "controverse": "monthly"},
        "active",
    ),
    ("lucas.policy@example.org", "Lucas Meyer", "en", {"events": "immediately"}, "paused"),
    ("anne.mairie@example.org", "Anne Dubois", "fr", {"blog": "weekly"}, "pending"),
    ("pierre.departi@example.org", "Pierre Roux", "fr", {"onaime": "monthly"}, "unsubscribed"),
]
DEMO_SOURCE = "démo : lecteurs fictifs"


def seed_subscribers(session: Session, settings: Settings) -> int:
    """Add the demo readers that are not there yet; returns how many were added."""
    existing = set(session.scalars(select(Subscriber.email)))
    origin = Origin(DEMO_SOURCE)
    added = 0
    for email, name, locale, topics, state in READERS:
        if email in existing:
            continue
        request = service.SubscriptionRequest(email=email, name=name, locale=locale, topics=topics)
        if state == "pending":
            service.request_subscription(session, settings, request, origin)
        else:
            subscriber = records.add_subscriber(session, settings, request, origin)
            if state == "paused":
                subscriber.paused_until = utcnow() + timedelta(days=30)
            elif state == "unsubscribed":
                service.unsubscribe(session, settings, subscriber, origin)
        added += 1
    session.flush()
    return added
