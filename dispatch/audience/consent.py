"""The consent ledger: what each person agreed to, when, from where; and the consent texts.

Every change of a person's subscription appends a ConsentEvent. Rows are never updated; they
go only with the person (erasure, expiry of an unconfirmed request), and erasure itself leaves
one row keyed by the suppression hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience.models import ConsentEvent, Subscriber

# The sentence shown next to the subscribe button. A new wording gets a new version, and the
# old ones stay here so that the ledger can always show what a person actually read.
CONSENT_TEXTS: dict[str, dict[str, str]] = {
    "2025-01": {
        "fr": (
            "J’accepte de recevoir par email les nouvelles de {org} sur les thèmes choisis. "
            "Je peux me désabonner à tout moment grâce au lien présent dans chaque message."
        ),
        "en": (
            "I agree to receive news from {org} by email on the topics I chose. "
            "I can unsubscribe at any time with the link in every message."
        ),
    },
}
CURRENT_CONSENT_VERSION = "2025-01"

ACTIONS = (
    "subscribe",
    "confirm",
    "preferences",
    "unsubscribe",
    "import",
    "add",
    "erase",
    "purge",
    "bounce",
    "complaint",
    "repermission",  # asked whether they stay, before a purge of the inactive
    "stay",  # pressed « Je reste abonné·e »
)


@dataclass(frozen=True)
class Origin:
    """Where a change came from: the web (with IP and user agent), the CLI, a bounce…"""

    source: str
    ip: str | None = None
    user_agent: str | None = None


def consent_text(version: str, locale: str, org: str) -> str:
    texts = CONSENT_TEXTS.get(version) or CONSENT_TEXTS[CURRENT_CONSENT_VERSION]
    return texts.get(locale, texts["fr"]).format(org=org)


def known_version(version: str | None) -> str:
    """The version a form claims, if it is one we ever showed; otherwise the current one."""
    return version if version in CONSENT_TEXTS else CURRENT_CONSENT_VERSION


def record_consent(
    session: Session,
    subscriber: Subscriber | None,
    action: str,
    origin: Origin,
    *,
    details: dict[str, Any] | None = None,
    consent_version: str | None = None,
    email_hash: str | None = None,
) -> ConsentEvent:
    if action not in ACTIONS:
        raise ValueError(f"unknown consent action {action!r}")
    event = ConsentEvent(
        subscriber_id=subscriber.id if subscriber is not None else None,
        email_hash=email_hash,
        action=action,
        details=details or {},
        source=origin.source[:200],
        consent_version=consent_version,
        ip=(origin.ip or None) and origin.ip[:64],
        user_agent=(origin.user_agent or None) and origin.user_agent[:1000],
    )
    session.add(event)
    session.flush()
    return event


def history(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .order_by(ConsentEvent.at, ConsentEvent.id)
        )
    )
