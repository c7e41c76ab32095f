"""Starting a send: the audience snapshot, one `Delivery` row per (edition, reader).

Who receives an edition is the audience rule (`dispatch.audience.reach.wanting`) applied to
the edition's own audience (its topics, rhythm and language), run in the database one chunk
of subscriber ids at a time up to `max_subscriber_id`, fixed when the send starts: the list
is never held in memory, and people who join later do not join the send midway. Rows are
unique per (edition, subscriber), so a chunk written twice adds nobody twice.

Sending does not wait for the whole snapshot. `start_edition` writes the first rows (enough
for the first batches) in the transaction that moves the edition to `sending`; once that
commits, batches go out while `continue_audience` writes the rest, one committed chunk at a
time, each advancing `audience_cursor` (the last subscriber id covered) in the same
transaction. Whoever writes holds a short lease on the snapshot; if that process dies, the
delivery tick hands the snapshot to another from the cursor on (`snapshots_to_resume`), so a
crash mid-snapshot needs no second `send`. An edition is finished only once its snapshot is
complete (`audience_built_at`).

An event reminder goes only to the readers its `EventReminder` rows name (who keep reminders
on); a change or cancellation notice only to the readers the event was sent to, as this
ledger records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber
from dispatch.audience.reach import wanting
from dispatch.config import Settings
from dispatch.db import UTCDateTime, utcnow
from dispatch.delivery.leases import holder_is_dead, worker_identity
from dispatch.delivery.models import Delivery
from dispatch.editions.errors import EditionStateError
from dispatch.editions.models import Edition, EditionItem
from dispatch.editions.reminders import reminder_readers
from dispatch.editions.schedule import locked_edition

#: Batch tasks started in parallel for one edition; each enqueues the next when it ends.
PARALLEL_BATCHES = 4
#: Subscriber ids covered by one committed chunk of the snapshot.
AUDIENCE_CHUNK = 5000
#: How long the writer of a snapshot holds it without writing a chunk.
SNAPSHOT_LEASE = timedelta(seconds=60)
#: Editions whose snapshot is still being written or may be resumed.
STARTED = ("sending", "paused")


@dataclass(frozen=True)
class StartResult:
    edition_id: int
    recipients: int  # rows written so far (all of them unless `audience_pending`)
    batches: int  # batch tasks to enqueue once the transaction has committed
    # The rest of the snapshot is to be written: ring "delivery.build_audience" after commit.
    audience_pending: bool = False


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
        letter=edition.kind == "newsletter",
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


def _write_chunk(session: Session, edition: Edition, span: int, now: datetime) -> int:
    """Rows for the next `span` subscriber ids after the cursor; returns how many were new."""
    assert edition.max_subscriber_id is not None
    low = edition.audience_cursor or 0
    high = min(low + span, edition.max_subscriber_id)
    chosen = select(
        literal(edition.id),
        Subscriber.id,
        literal("queued"),
        literal(0),
        literal(now, UTCDateTime()),
    ).where(Subscriber.id > low, Subscriber.id <= high, *audience_of(edition, now))
    # In subscriber order: rows (and so batches) go out in the order people joined, on every
    # database (PostgreSQL may otherwise number them in whatever order its plan reads them).
    chosen = chosen.order_by(Subscriber.id)
    result = session.execute(
        _insert(session)(Delivery)
        .from_select(["edition_id", "subscriber_id", "status", "attempts", "created_at"], chosen)
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
        .execution_options(preserve_rowcount=True)  # rows written (an INSERT's own count)
    )
    edition.audience_cursor = high
    written = max(0, int(result.rowcount))  # type: ignore[attr-defined]
    edition.recipients_total = (edition.recipients_total or 0) + written
    return written


def _complete(session: Session, edition: Edition) -> bool:
    if edition.audience_built_at is not None:
        return True
    if (edition.audience_cursor or 0) < (edition.max_subscriber_id or 0):
        return False
    edition.audience_built_at = utcnow()
    edition.audience_leased_by = None
    edition.audience_lease_until = None
    edition.recipients_total = (
        session.scalar(select(func.count()).where(Delivery.edition_id == edition.id)) or 0
    )
    return True


def _fix_audience(session: Session, edition: Edition) -> None:
    if edition.max_subscriber_id is None:
        edition.max_subscriber_id = session.scalar(select(func.max(Subscriber.id))) or 0
        edition.audience_cursor = 0
        edition.recipients_total = 0


def build_audience(
    session: Session, edition: Edition, *, now: datetime | None = None, rows: int | None = None
) -> int:
    """Snapshot the audience into Delivery rows from the cursor on; returns the rows so far.

    Writes every remaining chunk in the caller's transaction, or, with `rows`, stops as soon
    as at least that many new rows are written (the first rows of a streaming start).
    Idempotent. Flushes. Suppressed addresses are caught when their batch is claimed (the
    suppression list is keyed by a hash the database cannot compute).
    """
    now = now or utcnow()
    _fix_audience(session, edition)
    span = min(AUDIENCE_CHUNK, rows) if rows else AUDIENCE_CHUNK
    written = 0
    while not _complete(session, edition):
        written += _write_chunk(session, edition, span, now)
        if rows is not None and written >= rows:
            _complete(session, edition)
            break
    session.flush()
    return edition.recipients_total


def snapshot_complete(session: Session, edition_id: int) -> bool:
    built = session.execute(
        select(Edition.audience_built_at, Edition.max_subscriber_id).where(Edition.id == edition_id)
    ).first()
    # An edition sent before snapshots streamed has rows and no cursor: complete too.
    return built is None or built[0] is not None or built[1] is None


def batches_to_start(recipients: int, batch_size: int) -> int:
    return max(1, min(PARALLEL_BATCHES, -(-recipients // max(1, batch_size))))


def start_edition(
    session: Session, edition_id: int, *, settings: Settings, now: datetime | None = None
) -> StartResult:
    """Move a draft or scheduled edition to `sending` and write the first of its audience.

    Flushes; the caller commits, then enqueues `result.batches` batch tasks and, when
    `result.audience_pending`, one "delivery.build_audience" task for the rest. Starting an
    edition already sending only says how many batches to enqueue.
    """
    now = now or utcnow()
    edition = locked_edition(session, edition_id)
    if edition.status == "sending":
        return StartResult(
            edition.id, edition.recipients_total, 0, edition.audience_built_at is None
        )
    if edition.status not in ("draft", "scheduled"):
        raise EditionStateError(
            f"Edition {edition_id} is {edition.status}: only a draft or scheduled edition starts."
        )
    edition.status = "sending"
    edition.started_at = edition.started_at or now
    edition.consecutive_errors = 0
    edition.status_reason = None
    first = min(AUDIENCE_CHUNK, settings.mail.batch_size * PARALLEL_BATCHES)
    recipients = build_audience(session, edition, now=now, rows=first)
    if edition.audience_built_at is None:
        # More is coming: every chain starts now, and none ends while rows may still come.
        return StartResult(edition.id, recipients, PARALLEL_BATCHES, True)
    return StartResult(
        edition.id, recipients, batches_to_start(recipients, settings.mail.batch_size)
    )


def continue_audience(
    sessions: sessionmaker[Session],
    edition_id: int,
    *,
    worker: str | None = None,
    pause: float = 0.0,
) -> int:
    """Write the rest of a started edition's snapshot, one committed chunk at a time.

    Returns the number of chunks written: 0 when the snapshot is complete, the edition was
    cancelled, or another live process holds the snapshot. Commits (each chunk is visible to
    the batches as soon as it is written); safe to run twice at once (the edition's row is
    locked per chunk and the cursor read under the lock). `pause` waits between chunks
    (tests use it to catch the writer midway).
    """
    worker = worker or worker_identity()
    chunks = 0
    while True:
        with sessions() as session, session.begin():
            edition = session.get(Edition, edition_id, with_for_update=True)
            if edition is None or edition.status not in STARTED:
                return chunks
            if _complete(session, edition):
                return chunks
            now = utcnow()
            holder = edition.audience_leased_by
            held = edition.audience_lease_until is not None and edition.audience_lease_until > now
            if holder not in (None, worker) and held and not holder_is_dead(holder):
                return chunks
            _fix_audience(session, edition)
            edition.audience_leased_by = worker
            edition.audience_lease_until = now + SNAPSHOT_LEASE
            _write_chunk(session, edition, AUDIENCE_CHUNK, now)
            _complete(session, edition)
            chunks += 1
        if pause:
            time.sleep(pause)


def snapshots_to_resume(session: Session, *, now: datetime) -> list[int]:
    """Started editions whose snapshot is incomplete and held by nobody alive."""
    rows = session.execute(
        select(Edition.id, Edition.audience_leased_by, Edition.audience_lease_until).where(
            Edition.status.in_(STARTED),
            Edition.audience_built_at.is_(None),
            Edition.max_subscriber_id.is_not(None),
        )
    ).all()
    return [
        edition_id
        for edition_id, holder, until in rows
        if holder is None or until is None or until <= now or holder_is_dead(holder)
    ]
