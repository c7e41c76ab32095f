"""Starting a send: the audience snapshot, one `Delivery` row per (edition, reader).

Who receives an edition is the audience rule (`dispatch.audience.reach.wanting`) applied to
the edition's own audience (its topics, rhythm and language), run in the database one chunk
of subscriber ids at a time up to `max_subscriber_id`: the list is never held in memory, and
people who join later do not join the send midway. An event reminder goes only to the
readers its `EventReminder` rows name (who keep reminders on); a change or cancellation
notice only to the readers the event was sent to, as this ledger records. Rows are unique
per (edition, subscriber), so a snapshot run twice adds nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.audience.models import Subscriber
from dispatch.audience.reach import wanting
from dispatch.config import Settings
from dispatch.db import UTCDateTime, utcnow
from dispatch.delivery.models import Delivery
from dispatch.editions.errors import EditionStateError
from dispatch.editions.models import Edition, EditionItem
from dispatch.editions.reminders import reminder_readers
from dispatch.editions.schedule import locked_edition

#: Batch tasks started in parallel for one edition; each enqueues the next when it ends.
PARALLEL_BATCHES = 4
AUDIENCE_CHUNK = 5000


@dataclass(frozen=True)
class StartResult:
    edition_id: int
    recipients: int
    batches: int  # batch tasks to enqueue once the transaction has committed


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def audience_of(edition: Edition, now: datetime) -> list[Any]:
    """The conditions on `Subscriber` for who receives `edition`."""
    spec = edition.audience or {}
    conditions = wanting(
        topics=list(spec.get("topics") or []),
        frequency=spec.get("frequency"),
        locale=edition.locale,
        reminders=bool(spec.get("reminders")),
        now=now,
    )
    phase = spec.get("phase") if edition.kind == "event" else None
    if phase == "reminder":
        conditions.append(Subscriber.id.in_(reminder_readers(edition.id)))
    elif phase in ("changed", "cancelled"):
        conditions.append(Subscriber.id.in_(received(int(spec["event"]), edition.id)))
    return conditions


def received(item_id: int, edition_id: int) -> Any:
    """Who was sent `item` in any other edition (a subquery of subscriber ids)."""
    return (
        select(Delivery.subscriber_id)
        .join(EditionItem, EditionItem.edition_id == Delivery.edition_id)
        .where(
            EditionItem.item_id == item_id,
            Delivery.status == "sent",
            Delivery.edition_id != edition_id,
            Delivery.subscriber_id.is_not(None),
        )
    )


def build_audience(session: Session, edition: Edition, *, now: datetime | None = None) -> int:
    """Snapshot the audience into Delivery rows (idempotent); returns the number of rows.

    Suppressed addresses are caught when their batch is claimed (the suppression list is
    keyed by a hash the database cannot compute).
    """
    now = now or utcnow()
    if edition.max_subscriber_id is None:
        edition.max_subscriber_id = session.scalar(select(func.max(Subscriber.id))) or 0
    conditions = audience_of(edition, now)
    insert = _insert(session)
    low = 0
    while low < edition.max_subscriber_id:
        high = min(low + AUDIENCE_CHUNK, edition.max_subscriber_id)
        chosen = select(
            literal(edition.id),
            Subscriber.id,
            literal("queued"),
            literal(0),
            literal(now, UTCDateTime()),
        ).where(Subscriber.id > low, Subscriber.id <= high, *conditions)
        session.execute(
            insert(Delivery)
            .from_select(
                ["edition_id", "subscriber_id", "status", "attempts", "created_at"], chosen
            )
            .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
        )
        low = high
    edition.audience_built_at = now
    edition.recipients_total = (
        session.scalar(select(func.count()).where(Delivery.edition_id == edition.id)) or 0
    )
    session.flush()
    return edition.recipients_total


def batches_to_start(recipients: int, batch_size: int) -> int:
    return max(1, min(PARALLEL_BATCHES, -(-recipients // max(1, batch_size))))


def start_edition(
    session: Session, edition_id: int, *, settings: Settings, now: datetime | None = None
) -> StartResult:
    """Move a draft or scheduled edition to `sending` and snapshot its audience.

    Flushes; the caller commits, then enqueues `result.batches` batch tasks. Starting an
    edition already sending only says how many batches to enqueue.
    """
    now = now or utcnow()
    edition = locked_edition(session, edition_id)
    if edition.status == "sending":
        return StartResult(edition.id, edition.recipients_total, 0)
    if edition.status not in ("draft", "scheduled"):
        raise EditionStateError(
            f"Edition {edition_id} is {edition.status}: only a draft or scheduled edition starts."
        )
    edition.status = "sending"
    edition.started_at = edition.started_at or now
    edition.consecutive_errors = 0
    edition.status_reason = None
    recipients = build_audience(session, edition, now=now)
    return StartResult(
        edition.id, recipients, batches_to_start(recipients, settings.mail.batch_size)
    )
