"""Publication events: fired once per item, the first time it is seen published.

Content does not know who reacts: each consumer (alerts, social posts) names itself and
leaves a receipt for every event it has handled. A receipt is a row, unique per (consumer,
event), so a consumer running twice at once handles an event once: the second
insert loses on the key and its transaction rolls back. Silent events (what was already
online when its source was added) count as fired and are handed to nobody. A loud event opens
the item's decision on the editorial desk (`dispatch.content.desk`), which consumers obey.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.content import desk
from dispatch.content.models import ContentItem, PublicationEvent, PublicationReceipt
from dispatch.db import utcnow


def fire_publication(session: Session, item_id: int, *, silent: bool = False) -> bool:
    """Record the item's publication event, once ever; True if this call created it.

    The unique item_id makes it exactly once even when two polls race or a task runs twice.
    """
    if session.scalar(select(PublicationEvent.id).where(PublicationEvent.item_id == item_id)):
        return False
    try:
        with session.begin_nested():
            session.add(PublicationEvent(item_id=item_id, silent=silent))
            item = session.get(ContentItem, item_id)
            if not silent and item is not None:
                desk.open_decision(session, item)
    except IntegrityError:
        return False
    return True


def pending_publications(
    session: Session, *, consumer: str, limit: int = 100
) -> list[PublicationEvent]:
    """Events `consumer` has no receipt for yet (silent ones aside), oldest first."""
    handled = exists().where(
        PublicationReceipt.consumer == consumer,
        PublicationReceipt.event_id == PublicationEvent.id,
    )
    return list(
        session.scalars(
            select(PublicationEvent)
            .where(PublicationEvent.silent.is_(False), ~handled)
            .order_by(PublicationEvent.id)
            .limit(limit)
        )
    )


def acknowledge(
    session: Session, event_ids: Sequence[int], *, consumer: str, now: datetime | None = None
) -> bool:
    """Leave `consumer`'s receipt on every event; False (and none left) if another run of
    the same consumer had handled any of them first."""
    if not event_ids:
        return True
    at = now or utcnow()
    rows = [{"consumer": consumer, "event_id": event_id, "at": at} for event_id in event_ids]
    try:
        with session.begin_nested():
            session.execute(insert(PublicationReceipt), rows)
    except IntegrityError:
        return False
    return True
