"""Subscribers as staff handle them: adding people who consented elsewhere, what is held
about one person (GDPR access), erasure, purges of the inactive (asked first whether they
stay), expiry of unconfirmed requests.

Functions take the session first, flush and never commit. Erasure keeps only the
suppression hash and one anonymous ledger row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.audience.addresses import (
    InvalidInputError,
    check_mailable,
    clean_text,
    normalise_email,
)
from dispatch.audience.consent import Origin, history, record_consent
from dispatch.audience.mail_requests import TASKS
from dispatch.audience.models import Preference, Subscriber
from dispatch.audience.receipts import received_by
from dispatch.audience.service import (
    SubscriptionRequest,
    SuppressedAddressError,
    check_locale,
    find_by_email,
    preferences_of,
    resolve_topics,
    set_preferences,
)
from dispatch.audience.suppression import email_hash, is_suppressed, suppress, suppression_reason
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.db import utcnow
from dispatch.doorbell import ring_after_commit


class AlreadySubscribedError(InvalidInputError):
    """Staff added an address that is already on the list (its page is the place to change it)."""


def add_subscriber(
    session: Session,
    settings: Settings,
    request: SubscriptionRequest,
    origin: Origin,
    *,
    action: Literal["add", "import"] = "add",
    welcome: bool = False,
    now: datetime | None = None,
) -> Subscriber:
    """Add someone who consented elsewhere (`origin.source` says where) as active.

    No welcome email unless `welcome`: people on an old list did not just ask for anything,
    and a welcome to each of them is a bulk send in disguise. Refuses suppressed addresses:
    they come back only through the form's double opt-in.
    """
    now = now or utcnow()
    if not origin.source.strip():
        raise InvalidInputError("consent_source", "say where this person gave consent")
    email = normalise_email(request.email)
    check_mailable(email, smtputf8=request.smtputf8)
    name = clean_text(request.name, "name")
    locale = check_locale(request.locale)
    wanted = resolve_topics(session, request.topics)
    reason = suppression_reason(session, settings, email)
    if reason is not None:
        raise SuppressedAddressError(
            f"{email} is suppressed ({reason}); only the person can subscribe again, "
            "from the form, with a confirmation"
        )
    if session.scalar(select(Subscriber.id).where(Subscriber.email == email)) is not None:
        raise AlreadySubscribedError("email", f"{email} is already a subscriber")
    subscriber = Subscriber(
        email=email,
        name=name,
        locale=locale,
        letter=request.letter,
        status="active",
        created_at=now,
        confirmed_at=now,
        last_engagement_at=now,
        consent_version=None,
        welcome_requested_at=now if welcome else None,
    )
    session.add(subscriber)
    session.flush()
    set_preferences(session, subscriber, wanted)
    record_consent(
        session,
        subscriber,
        action,
        origin,
        details={"topics": preferences_of(subscriber), "locale": locale, "welcome": welcome},
    )
    if welcome:
        ring_after_commit(session, TASKS["welcome"], subscriber.id)
    if action == "add":
        # Ids, never addresses: the trail outlives an erasure and must not keep the person.
        audit.record(session, "subscriber.added", object_type="subscriber", object_id=subscriber.id)
    return subscriber


def export_person(session: Session, settings: Settings, email: str) -> dict[str, Any] | None:
    """Everything held about one person (GDPR access request), or None if nothing is."""
    subscriber = find_by_email(session, email)
    reason = suppression_reason(session, settings, email)
    audit.record(
        session,
        "subscriber.exported",
        object_type="subscriber",
        object_id=subscriber.id if subscriber else None,
        summary={"email_hash": email_hash(settings, email)[:16], "found": subscriber is not None},
    )
    if subscriber is None:
        if reason is None:
            return None
        return {"subscriber": None, "suppressed": reason, "consent_history": []}
    return person(session, settings, subscriber)


def person(session: Session, settings: Settings, subscriber: Subscriber) -> dict[str, Any]:
    """One subscriber as staff see them: the record, the suppression, the consent history."""
    return {
        "subscriber": subscriber_record(subscriber),
        "suppressed": suppression_reason(session, settings, subscriber.email),
        "received": received_by(session, subscriber.id),
        "consent_history": [
            {
                "at": event.at.isoformat(),
                "action": event.action,
                "details": event.details,
                "source": event.source,
                "consent_version": event.consent_version,
                "ip": event.ip,
                "user_agent": event.user_agent,
            }
            for event in history(session, subscriber.id)
        ],
    }


@dataclass(frozen=True)
class SubscriberFilter:
    """What staff look for: part of an address or name, a status, a topic, a rhythm, a language."""

    text: str = ""
    status: str | None = None
    topic: str | None = None
    frequency: str | None = None
    language: str | None = None


def search_subscribers(
    session: Session, wanted: SubscriberFilter, *, limit: int = 50, before_id: int | None = None
) -> list[Subscriber]:
    """Newest first (by id, so that pages are stable)."""
    query = select(Subscriber)
    if wanted.text.strip():
        pattern = "%" + wanted.text.strip().lower().replace("%", r"\%").replace("_", r"\_") + "%"
        query = query.where(
            Subscriber.email.like(pattern, escape="\\")
            | func.lower(Subscriber.name).like(pattern, escape="\\")
        )
    if wanted.status:
        query = query.where(Subscriber.status == wanted.status)
    if wanted.language:
        query = query.where(Subscriber.locale == wanted.language)
    if wanted.topic or wanted.frequency:
        chosen = select(Preference.subscriber_id)
        if wanted.topic:
            chosen = chosen.join(Topic, Topic.id == Preference.topic_id).where(
                Topic.slug == wanted.topic
            )
        if wanted.frequency:
            chosen = chosen.where(Preference.frequency == wanted.frequency)
        query = query.where(Subscriber.id.in_(chosen))
    if before_id is not None:
        query = query.where(Subscriber.id < before_id)
    return list(session.scalars(query.order_by(Subscriber.id.desc()).limit(limit)))


def subscriber_record(subscriber: Subscriber) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": subscriber.id,
        "email": subscriber.email,
        "name": subscriber.name,
        "language": subscriber.locale,
        "status": subscriber.status,
        "topics": preferences_of(subscriber),
        "letter": subscriber.letter,
        "created_at": when(subscriber.created_at),
        "confirmed_at": when(subscriber.confirmed_at),
        "unsubscribed_at": when(subscriber.unsubscribed_at),
        "paused_until": when(subscriber.paused_until),
        "event_reminders": subscriber.event_reminders,
        "last_engagement_at": when(subscriber.last_engagement_at),
        "consent_version": subscriber.consent_version,
        "soft_bounces": subscriber.soft_bounces,
    }


def _forget(
    session: Session,
    settings: Settings,
    subscriber: Subscriber | None,
    email: str,
    *,
    action: Literal["erase", "purge"],
    reason: str,
    origin: Origin,
    keep_reason: bool,
) -> None:
    digest = email_hash(settings, email)
    if subscriber is not None:
        # Preferences and the person's consent events go with the row (ON DELETE CASCADE).
        session.delete(subscriber)
        session.flush()
    if not (keep_reason and is_suppressed(session, settings, email)):
        suppress(session, settings, email, reason)
    record_consent(session, None, action, origin, email_hash=digest)


def erase(session: Session, settings: Settings, email: str, origin: Origin) -> bool:
    """Delete a person and everything about them; keep only the suppression hash.

    Returns whether a subscriber was found. The address is suppressed either way.
    """
    subscriber = find_by_email(session, email)
    audit.record(
        session,
        "subscriber.erased",
        object_type="subscriber",
        object_id=subscriber.id if subscriber else None,
        summary={"email_hash": email_hash(settings, email)[:16], "found": subscriber is not None},
    )
    _forget(
        session,
        settings,
        subscriber,
        subscriber.email if subscriber else email,
        action="erase",
        reason="erased",
        origin=origin,
        keep_reason=False,
    )
    return subscriber is not None


#: How long a reader asked « do you want to stay? » has to answer before being erased.
#: The email says "30 days" (templates/email/repermission): change both together.
REPERMISSION_GRACE = timedelta(days=30)


def _last_seen() -> Any:
    """A reader's last sign of life: confirming, saving their preferences, pressing « Je
    reste abonné·e » (`last_engagement_at`), else their confirmation or arrival."""
    return func.coalesce(
        Subscriber.last_engagement_at, Subscriber.confirmed_at, Subscriber.created_at
    )


def inactive_since(session: Session, cutoff: datetime) -> list[Subscriber]:
    return list(
        session.scalars(select(Subscriber).where(_last_seen() < cutoff).order_by(Subscriber.id))
    )


@dataclass
class PurgePlan:
    """What `purge-inactive` does, or would do with --dry-run."""

    ask: list[Subscriber] = field(default_factory=list)  # to get the re-permission email
    erase: list[Subscriber] = field(default_factory=list)  # silent 30 days after it, or unmailable
    waiting: list[Subscriber] = field(default_factory=list)  # asked, the 30 days still running


def plan_purge(
    session: Session, settings: Settings, *, years: int, now: datetime | None = None
) -> PurgePlan:
    """Sort the readers with no sign of life in `years` years: ask, erase, or wait.

    A reader who can be mailed is asked first, once per silence (the email is asked for
    again only after a new sign of life); they are erased when the email went out at least
    REPERMISSION_GRACE ago and nothing came back since. People who cannot be mailed any more
    (unsubscribed, bounced, complained, never confirmed, suppressed) have nobody to ask:
    they are erased as before.
    """
    if years < 1:
        raise ValueError("years must be at least 1")
    now = now or utcnow()
    cutoff = now - timedelta(days=365 * years + years // 4)
    plan = PurgePlan()
    for subscriber in inactive_since(session, cutoff):
        seen = max(
            d
            for d in (
                subscriber.last_engagement_at,
                subscriber.confirmed_at,
                subscriber.created_at,
            )
            if d is not None
        )
        asked = subscriber.repermission_requested_at
        sent = subscriber.repermission_sent_at
        if subscriber.status != "active" or is_suppressed(session, settings, subscriber.email):
            plan.erase.append(subscriber)
        elif asked is None or asked < seen:
            plan.ask.append(subscriber)
        elif sent is not None and sent >= asked and sent <= now - REPERMISSION_GRACE:
            plan.erase.append(subscriber)
        else:
            plan.waiting.append(subscriber)  # asked; unsent yet, or the grace still runs
    return plan


def purge_inactive(
    session: Session,
    settings: Settings,
    *,
    years: int,
    origin: Origin,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PurgePlan:
    """Ask the inactive whether they stay, and erase those who did not answer in time.

    CNIL: three years without a sign of life for prospects. Each run asks the newly
    inactive (one email each, rung after commit and found again by the mail sweep) and
    erases the ones whose grace has run out; erasure keeps only the suppression hash.
    """
    now = now or utcnow()
    plan = plan_purge(session, settings, years=years, now=now)
    if dry_run:
        return plan
    for subscriber in plan.ask:
        subscriber.repermission_requested_at = now
        record_consent(
            session,
            subscriber,
            "repermission",
            origin,
            details={"years_inactive": years},
            consent_version=subscriber.consent_version,
        )
        ring_after_commit(session, TASKS["repermission"], subscriber.id)
    for subscriber in plan.erase:
        _forget(
            session,
            settings,
            subscriber,
            subscriber.email,
            action="purge",
            reason="purged",
            origin=origin,
            keep_reason=True,
        )
    session.flush()
    audit.record(
        session,
        "subscribers.purged",
        summary={
            "years": years,
            "asked": len(plan.ask),
            "erased": len(plan.erase),
            "waiting": len(plan.waiting),
        },
    )
    return plan


def expire_pending(session: Session, settings: Settings, *, now: datetime | None = None) -> int:
    """Drop subscription requests nobody confirmed in time (their confirm link is dead too).

    A first-time request disappears with its ledger rows (no consent was ever given). A
    returning person's request reverts to "unsubscribed", their suppression still in place.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.security.confirm_max_age_days)
    started = func.coalesce(Subscriber.confirm_requested_at, Subscriber.created_at)
    stale = list(
        session.scalars(select(Subscriber).where(Subscriber.status == "pending", started < cutoff))
    )
    for subscriber in stale:
        if subscriber.confirmed_at is None:
            session.delete(subscriber)
        else:
            subscriber.status = "unsubscribed"
            subscriber.confirm_nonce += 1
    session.flush()
    return len(stale)
