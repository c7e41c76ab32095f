"""What each reader received: the receipt ledger read for "once per reader".

The sending engine writes a receipt per item of a reader's copy in the commit that marks
the delivery sent (`dispatch.delivery.ledger`); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience.models import Receipt
from dispatch.content.models import ContentItem


def already_received(
    session: Session,
    subscriber_ids: Iterable[int],
    item_ids: Iterable[int],
    *,
    besides_edition: int | None = None,
) -> dict[int, frozenset[int]]:
    """Subscriber id -> which of `item_ids` they already received (in another edition)."""
    readers, items = list(set(subscriber_ids)), list(set(item_ids))
    if not readers or not items:
        return {}
    query = select(Receipt.subscriber_id, Receipt.item_id).where(
        Receipt.subscriber_id.in_(readers), Receipt.item_id.in_(items)
    )
    if besides_edition is not None:
        query = query.where(Receipt.edition_id != besides_edition)
    found: dict[int, set[int]] = {}
    for subscriber_id, item_id in session.execute(query):
        found.setdefault(subscriber_id, set()).add(item_id)
    return {reader: frozenset(got) for reader, got in found.items()}


def received_by(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """Every item sent to one reader, oldest first: for their record and the GDPR export."""
    rows = session.execute(
        select(Receipt, ContentItem.title, ContentItem.url)
        .join(ContentItem, ContentItem.id == Receipt.item_id)
        .where(Receipt.subscriber_id == subscriber_id)
        .order_by(Receipt.received_at, Receipt.edition_id, Receipt.item_id)
    )
    return [
        {
            "item_id": receipt.item_id,
            "title": title,
            "url": url,
            "edition_id": receipt.edition_id,
            "channel": receipt.channel,
            "received_at": receipt.received_at.isoformat(),
        }
        for receipt, title, url in rows
    ]
