"""Changes staff make to one subscriber from the back office: preferences, a pause, an
unsubscription. Each goes through the subscriber services (which write the consent ledger)
and leaves an audit row in the staff member's name, with the subscriber's id, never the
address: the trail outlives an erasure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.audience import service
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.config import Settings


def _record(session: Session, action: str, subscriber: Subscriber, **summary: Any) -> None:
    audit.record(
        session, action, object_type="subscriber", object_id=subscriber.id, summary=summary
    )


def change_preferences(
    session: Session,
    subscriber: Subscriber,
    origin: Origin,
    *,
    topics: Mapping[str, str],
    locale: str,
    event_reminders: bool,
) -> bool:
    """Topics, rhythm, language and event reminders; True if anything changed."""
    changes = service.update_preferences(
        session, subscriber, origin, topics=topics, locale=locale, keep_pause=True
    )
    reminders = service.set_event_reminders(session, subscriber, origin, on=event_reminders)
    if changes or reminders:
        _record(session, "subscriber.preferences_changed", subscriber, fields=sorted(changes))
    return bool(changes or reminders)


def pause(session: Session, subscriber: Subscriber, origin: Origin, *, days: int) -> None:
    """Pause mail for `days` (30, 90 or 180), or resume with 0."""
    service.update_preferences(
        session,
        subscriber,
        origin,
        topics=service.preferences_of(subscriber),
        locale=subscriber.locale,
        pause_days=days or None,
    )
    _record(session, "subscriber.paused" if days else "subscriber.resumed", subscriber, days=days)


def unsubscribe(
    session: Session, settings: Settings, subscriber: Subscriber, origin: Origin
) -> bool:
    """Unsubscribe from everything (the address is suppressed); False if already so."""
    done = service.unsubscribe(session, settings, subscriber, origin)
    if done:
        _record(session, "subscriber.unsubscribed", subscriber)
    return done
