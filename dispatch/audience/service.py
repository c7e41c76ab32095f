"""Subscribers' lifecycle: subscribe, confirm, preferences, unsubscribe, bounces, erasure, expiry.

Every function takes the session first, flushes and never commits. Each change of consent
appends to the ledger (`consent.record_consent`); each end of a subscription suppresses the
address (`suppression.suppress`); only a new confirmation lifts a suppression.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience import abuse, tokens
from dispatch.audience.addresses import (
    InvalidInputError,
    check_mailable,
    clean_text,
    normalise_email,
)
from dispatch.audience.consent import (
    CURRENT_CONSENT_VERSION,
    Origin,
    known_version,
    record_consent,
)
from dispatch.audience.mail_requests import LINK_REQUEST_TASK, TASKS
from dispatch.audience.models import FREQUENCIES, LinkRequest, Preference, Subscriber
from dispatch.audience.suppression import (
    email_hash,
    is_suppressed,
    lift,
    suppress,
)
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.db import utcnow
from dispatch.doorbell import ring_after_commit

LOCALES = ("fr", "en")
PAUSE_CHOICES = (30, 90, 180)  # days

# Public API for other domains (the sending engine calls these per recipient or per bounce).
unsubscribe_url = tokens.unsubscribe_url
preferences_url = tokens.preferences_url
__all__ = [
    "email_hash",
    "is_suppressed",
    "mark_bounced",
    "mark_complained",
    "preferences_url",
    "suppress",
    "unsubscribe_url",
]

MailKind = Literal["confirm", "link"]


class NotSubscribedError(Exception):
    """The person is not (or no longer) subscribed: preferences cannot change."""


class SuppressedAddressError(Exception):
    """Staff tried to add an address that asked never to be mailed again."""


@dataclass(frozen=True)
class SubscriptionRequest:
    email: str
    name: str = ""
    locale: str = "fr"
    topics: Mapping[str, str] = field(default_factory=dict)  # topic slug → frequency
    letter: bool = True  # the staff letter, included unless the person says no
    consent_version: str = CURRENT_CONSENT_VERSION
    # Whether the mail path can deliver to a non-ASCII local part (SMTPUTF8): the boundary
    # asks delivery (`relay_offers_smtputf8`); without it such an address is refused.
    smtputf8: bool = False


@dataclass(frozen=True)
class MailRequest:
    """What the caller must enqueue after commit, if anything."""

    subscriber_id: int | None
    mail: MailKind | None


@dataclass(frozen=True)
class ConfirmResult:
    status: Literal["confirmed", "already", "invalid", "expired"]
    subscriber: Subscriber | None = None


# --- reading ----------------------------------------------------------------------------------


def find_by_email(session: Session, email: str) -> Subscriber | None:
    try:
        normalised = normalise_email(email)
    except InvalidInputError:
        return None
    return session.scalar(select(Subscriber).where(Subscriber.email == normalised))


def topics_in_order(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.position, Topic.slug)))


def preferences_of(subscriber: Subscriber) -> dict[str, str]:
    return {p.topic.slug: p.frequency for p in subscriber.preferences}


# --- input ------------------------------------------------------------------------------------


def parse_topics(value: str) -> dict[str, str]:
    """`"blog:weekly;events:immediately"` (`;`, `|` or spaces between pairs) → a dict."""
    topics: dict[str, str] = {}
    for pair in value.replace("|", ";").replace(" ", ";").split(";"):
        pair = pair.strip()
        if not pair:
            continue
        slug, _, frequency = pair.partition(":")
        slug, frequency = slug.strip().lower(), (frequency.strip().lower() or "weekly")
        if not slug:
            raise InvalidInputError("topics", f"{pair!r} has no topic before the colon")
        if frequency not in FREQUENCIES:
            raise InvalidInputError(
                "topics", f"{frequency!r} is not a frequency (use {', '.join(FREQUENCIES)})"
            )
        if slug in topics:
            raise InvalidInputError("topics", f"topic {slug!r} is given twice")
        topics[slug] = frequency
    return topics


def format_topics(preferences: Mapping[str, str]) -> str:
    return ";".join(f"{slug}:{frequency}" for slug, frequency in sorted(preferences.items()))


def resolve_topics(session: Session, wanted: Mapping[str, str]) -> dict[int, str]:
    """Topic slugs → ids, refusing unknown topics and frequencies."""
    if not wanted:
        return {}
    known = {t.slug: t.id for t in session.scalars(select(Topic))}
    resolved: dict[int, str] = {}
    for slug, frequency in wanted.items():
        if slug not in known:
            raise InvalidInputError(
                "topics", f"unknown topic {slug!r} (known: {', '.join(sorted(known))})"
            )
        if frequency not in FREQUENCIES:
            raise InvalidInputError("topics", f"{frequency!r} is not a frequency")
        resolved[known[slug]] = frequency
    return resolved


def check_locale(locale: str) -> str:
    value = (locale or "").strip().lower()
    if value not in LOCALES:
        raise InvalidInputError("locale", f"language must be fr or en, not {locale!r}")
    return value


def set_preferences(session: Session, subscriber: Subscriber, wanted: dict[int, str]) -> None:
    current = {p.topic_id: p for p in subscriber.preferences}
    for topic_id, row in current.items():
        if topic_id not in wanted:
            subscriber.preferences.remove(row)
        elif row.frequency != wanted[topic_id]:
            row.frequency = wanted[topic_id]
    for topic_id, frequency in wanted.items():
        if topic_id not in current:
            subscriber.preferences.append(Preference(topic_id=topic_id, frequency=frequency))
    session.flush()
    session.refresh(subscriber)


# --- subscribing ------------------------------------------------------------------------------


def request_subscription(
    session: Session,
    settings: Settings,
    request: SubscriptionRequest,
    origin: Origin,
    *,
    now: datetime | None = None,
) -> MailRequest:
    """Record a subscription request; the answer never depends on the address's state.

    New, pending or previously unsubscribed addresses become pending and get a confirmation
    email; an active subscriber's settings are left alone (anyone can type an address) and
    they get their preferences link instead. Rate limits may withhold the email.
    """
    now = now or utcnow()
    email = normalise_email(request.email)
    check_mailable(email, smtputf8=request.smtputf8)
    name = clean_text(request.name, "name")
    locale = check_locale(request.locale)
    wanted = resolve_topics(session, request.topics)
    version = known_version(request.consent_version)
    may_mail = abuse.allow_mail(session, settings, email)

    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is not None and subscriber.status == "active":
        if not may_mail:
            return MailRequest(subscriber.id, None)
        subscriber.link_requested_at = now
        session.flush()
        return MailRequest(subscriber.id, "link")

    if subscriber is None:
        subscriber = Subscriber(email=email, status="pending", created_at=now)
        session.add(subscriber)
        session.flush()
        previous = None
    else:
        previous = subscriber.status
        if previous != "pending":
            # A new cycle: confirm links from the earlier one must not work any more.
            subscriber.confirm_nonce += 1
            subscriber.status = "pending"
            subscriber.confirmation_sent_at = None
    subscriber.name = name
    subscriber.locale = locale
    subscriber.letter = request.letter
    subscriber.consent_version = version
    set_preferences(session, subscriber, wanted)
    details: dict[str, Any] = {
        "topics": preferences_of(subscriber),
        "letter": request.letter,
        "locale": locale,
        "name_given": bool(name),
    }
    if previous and previous != "pending":
        details["previous_status"] = previous
    if is_suppressed(session, settings, email):
        details["suppressed_until_confirmed"] = True
    record_consent(
        session, subscriber, "subscribe", origin, details=details, consent_version=version
    )
    if not may_mail:
        return MailRequest(subscriber.id, None)
    subscriber.confirm_requested_at = now
    session.flush()
    return MailRequest(subscriber.id, "confirm")


def queue_link_request(session: Session, email: str, *, now: datetime | None = None) -> int:
    """ "Email me my link", as the public page takes it: the address is checked for its form
    only and written down for a worker (`handle_link_request`), so that the page does the
    same work, in the same time, whether the address is subscribed or not. Rings after
    commit; the sweep finds a request whose ring was lost. Returns the request's id."""
    row = LinkRequest(email=normalise_email(email), requested_at=now or utcnow())
    session.add(row)
    session.flush()
    ring_after_commit(session, LINK_REQUEST_TASK, row.id)
    return row.id


def handle_link_request(session: Session, settings: Settings, request_id: int) -> MailRequest:
    """The worker's side of `queue_link_request`: decide and ask for the email, if any
    (`request_link`), once; the request row goes. Rings after commit for the email."""
    row = session.get(LinkRequest, request_id)
    if row is None:
        return MailRequest(None, None)  # handled already
    email = row.email
    session.delete(row)
    mail = request_link(session, settings, email)
    if mail.mail is not None and mail.subscriber_id is not None:
        ring_after_commit(session, TASKS[mail.mail], mail.subscriber_id)
    return mail


def request_link(
    session: Session, settings: Settings, email: str, *, now: datetime | None = None
) -> MailRequest:
    """ "Email me my link": active people get their preferences link, pending people their
    confirmation again, anyone else nothing. The page says the same in every case."""
    now = now or utcnow()
    normalised = normalise_email(email)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == normalised))
    if subscriber is None or subscriber.status not in ("active", "pending"):
        return MailRequest(None, None)
    if not abuse.allow_mail(session, settings, normalised):
        return MailRequest(subscriber.id, None)
    if subscriber.status == "pending":
        subscriber.confirm_requested_at = now
        kind: MailKind = "confirm"
    else:
        subscriber.link_requested_at = now
        kind = "link"
    session.flush()
    return MailRequest(subscriber.id, kind)


def peek_confirm(session: Session, settings: Settings, token: str) -> ConfirmResult:
    """What POSTing this confirm token would do, changing nothing (for the GET page)."""
    try:
        claim = tokens.read_confirm_token(settings, token)
    except tokens.TokenError as exc:
        return ConfirmResult("expired" if exc.expired else "invalid")
    subscriber = session.get(Subscriber, claim.subscriber_id)
    if subscriber is None or subscriber.confirm_nonce != claim.nonce:
        return ConfirmResult("invalid")
    if subscriber.status == "active":
        return ConfirmResult("already", subscriber)
    if subscriber.status == "pending":
        return ConfirmResult("confirmed", subscriber)  # what a POST would do
    return ConfirmResult("invalid", subscriber)


def confirm(
    session: Session,
    settings: Settings,
    token: str,
    origin: Origin,
    *,
    now: datetime | None = None,
) -> ConfirmResult:
    """Activate a pending subscription from its confirm link; idempotent once confirmed."""
    now = now or utcnow()
    result = peek_confirm(session, settings, token)
    subscriber = result.subscriber
    if result.status != "confirmed" or subscriber is None:
        return result
    subscriber.status = "active"
    subscriber.confirmed_at = now
    subscriber.welcome_requested_at = now  # the caller rings for it after commit
    subscriber.unsubscribed_at = None
    subscriber.soft_bounces = 0
    subscriber.last_engagement_at = now
    # The new confirmation is the person's own, fresh consent: it alone lifts a suppression.
    lift(session, settings, subscriber.email)
    record_consent(
        session,
        subscriber,
        "confirm",
        origin,
        details={"topics": preferences_of(subscriber), "locale": subscriber.locale},
        consent_version=subscriber.consent_version,
    )
    return ConfirmResult("confirmed", subscriber)


# --- preferences ------------------------------------------------------------------------------


def subscriber_for_link(
    session: Session, settings: Settings, purpose: tokens.Purpose, token: str
) -> Subscriber | None:
    """The subscriber a preferences or unsubscribe token names; TokenError if it is forged.

    None when the signature is good but the person is gone (erased or expired).
    """
    subscriber_id = tokens.read_token(settings, purpose, token)
    return session.get(Subscriber, subscriber_id)


def update_preferences(
    session: Session,
    subscriber: Subscriber,
    origin: Origin,
    *,
    topics: Mapping[str, str],
    locale: str,
    pause_days: int | None = None,
    keep_pause: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Apply the preference centre's form; returns what changed (empty: nothing did).

    `pause_days` None or 0 resumes; 30/90/180 pauses that long; `keep_pause` leaves it as is.
    """
    now = now or utcnow()
    if subscriber.status not in ("active", "pending"):
        raise NotSubscribedError(f"subscriber {subscriber.id} is {subscriber.status}")
    wanted = resolve_topics(session, topics)
    locale = check_locale(locale)
    changes: dict[str, Any] = {}
    before = preferences_of(subscriber)
    set_preferences(session, subscriber, wanted)
    after = preferences_of(subscriber)
    if before != after:
        changes["topics"] = {"before": before, "after": after}
    if locale != subscriber.locale:
        changes["locale"] = {"before": subscriber.locale, "after": locale}
        subscriber.locale = locale
    if not keep_pause:
        if pause_days and pause_days not in PAUSE_CHOICES:
            raise InvalidInputError("pause", f"a pause lasts {PAUSE_CHOICES} days")
        paused_until = now + timedelta(days=pause_days) if pause_days else None
        was_paused = subscriber.paused_until is not None and subscriber.paused_until > now
        if paused_until is not None or was_paused:
            changes["paused_until"] = {
                "before": subscriber.paused_until.isoformat()
                if was_paused and subscriber.paused_until
                else None,
                "after": paused_until.isoformat() if paused_until else None,
            }
        subscriber.paused_until = paused_until
    subscriber.last_engagement_at = now
    if changes:
        record_consent(
            session,
            subscriber,
            "preferences",
            origin,
            details=changes,
            consent_version=subscriber.consent_version,
        )
    session.flush()
    return changes


def stay(
    session: Session, subscriber: Subscriber, origin: Origin, *, now: datetime | None = None
) -> bool:
    """« Je reste abonné·e »: a sign of life that keeps the reader out of the next purge.

    True (and a ledger entry) the first time after being asked; pressing again only
    refreshes the sign of life. NotSubscribedError if the person is no longer subscribed.
    """
    now = now or utcnow()
    if subscriber.status != "active":
        raise NotSubscribedError(f"subscriber {subscriber.id} is {subscriber.status}")
    asked = subscriber.repermission_requested_at
    answered = asked is not None and (
        subscriber.last_engagement_at is None or subscriber.last_engagement_at < asked
    )
    subscriber.last_engagement_at = now
    if answered:
        record_consent(
            session,
            subscriber,
            "stay",
            origin,
            details={"asked_at": asked.isoformat() if asked else None},
            consent_version=subscriber.consent_version,
        )
    session.flush()
    return answered


def set_letter(session: Session, subscriber: Subscriber, origin: Origin, *, on: bool) -> bool:
    """Take the staff letter or not; True (and a ledger entry) when it changed."""
    if subscriber.status not in ("active", "pending"):
        raise NotSubscribedError(f"subscriber {subscriber.id} is {subscriber.status}")
    if subscriber.letter == on:
        return False
    record_consent(
        session,
        subscriber,
        "preferences",
        origin,
        details={"letter": {"before": subscriber.letter, "after": on}},
        consent_version=subscriber.consent_version,
    )
    subscriber.letter = on
    session.flush()
    return True


def set_event_reminders(
    session: Session, subscriber: Subscriber, origin: Origin, *, on: bool
) -> bool:
    """Turn "remind me of events" on or off; True (and a ledger entry) when it changed."""
    if subscriber.status not in ("active", "pending"):
        raise NotSubscribedError(f"subscriber {subscriber.id} is {subscriber.status}")
    if subscriber.event_reminders == on:
        return False
    record_consent(
        session,
        subscriber,
        "preferences",
        origin,
        details={"event_reminders": {"before": subscriber.event_reminders, "after": on}},
        consent_version=subscriber.consent_version,
    )
    subscriber.event_reminders = on
    session.flush()
    return True


def unsubscribe(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    origin: Origin,
    *,
    now: datetime | None = None,
) -> bool:
    """Unsubscribe from everything and suppress the address; False if it already was."""
    now = now or utcnow()
    if subscriber.status == "unsubscribed":
        return False
    previous = subscriber.status
    if subscriber.status in ("active", "pending"):
        subscriber.status = "unsubscribed"
    subscriber.unsubscribed_at = now
    subscriber.confirm_nonce += 1
    suppress(session, settings, subscriber.email, "unsubscribed")
    record_consent(
        session, subscriber, "unsubscribe", origin, details={"previous_status": previous}
    )
    return True


# --- bounces and complaints (called by the delivery engine) -----------------------------------


def mark_bounced(
    session: Session,
    settings: Settings,
    subscriber_id: int,
    *,
    hard: bool,
    origin: Origin | None = None,
) -> str | None:
    """Record a bounce; a hard one (or too many soft ones) suppresses the address.

    Returns the subscriber's status afterwards, None when the subscriber is gone.
    """
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    origin = origin or Origin("bounce")
    if not hard:
        subscriber.soft_bounces += 1
        if subscriber.soft_bounces < settings.mail.soft_bounce_threshold:
            session.flush()
            return subscriber.status
    _stop_mail(
        session,
        settings,
        subscriber,
        status="bounced",
        action="bounce",
        origin=origin,
        details={"hard": hard, "soft_bounces": subscriber.soft_bounces},
    )
    return subscriber.status


def mark_complained(
    session: Session, settings: Settings, subscriber_id: int, *, origin: Origin | None = None
) -> str | None:
    """A spam complaint (feedback loop): never mail this address again."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return None
    _stop_mail(
        session,
        settings,
        subscriber,
        status="complained",
        action="complaint",
        origin=origin or Origin("complaint"),
        details={},
    )
    return subscriber.status


def _stop_mail(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    *,
    status: str,
    action: str,
    origin: Origin,
    details: dict[str, object],
) -> None:
    """Move to a status that is never mailed, suppress the address and record why (once)."""
    if subscriber.status == status:
        return
    previous = subscriber.status
    subscriber.status = status
    subscriber.confirm_nonce += 1  # outstanding confirm links stop working
    suppress(session, settings, subscriber.email, status)
    record_consent(
        session, subscriber, action, origin, details={**details, "previous_status": previous}
    )
