"""Claiming a batch: up to `limit` due rows leased to one worker, their readers checked again.

Rows are leased with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers share an
edition's queue without stepping on each other (SQLite has one writer: every transaction
starts with BEGIN IMMEDIATE). The claim is committed before anything is sent. Each reader is
checked against the audience rule once more: whoever unsubscribed, bounced, paused or was
erased since the snapshot has their row skipped, with the reason. The claim also reads, in
one query per batch, which of the edition's items each reader already received (the
receipt ledger): read at claim time, so an alert sent meanwhile counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from dispatch.audience import reach
from dispatch.audience.models import Subscriber
from dispatch.audience.receipts import already_received
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery.models import Delivery
from dispatch.editions.models import Edition, EditionItem

DELIVERIES = cast(Table, Delivery.__table__)
SUBSCRIBERS = cast(Table, Subscriber.__table__)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One claimed row and the reader it is for, as the send loop needs them."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str
    locale: str
    attempts: int
    topics: frozenset[str] = field(default_factory=frozenset)
    # Items of the edition this reader already received elsewhere (left out of their copy).
    left_out: frozenset[int] = field(default_factory=frozenset)


def due(now: datetime) -> Any:
    return or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)


def has_due_rows(session: Session, edition_id: int, now: datetime) -> bool:
    query = select(Delivery.id).where(
        Delivery.edition_id == edition_id, Delivery.status == "queued", due(now)
    )
    return session.scalar(query.limit(1)) is not None


def claim_batch(
    session: Session,
    edition_id: int,
    *,
    settings: Settings,
    worker: str,
    limit: int,
    now: datetime | None = None,
) -> tuple[list[Recipient], int]:
    """Lease up to `limit` due rows and re-check their readers; returns (to send, skipped).

    Flushes; the caller commits before sending.
    """
    now = now or utcnow()
    chosen = (
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.status == "queued", due(now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    lease: dict[str, Any] = {
        "status": "sending",
        "lease_until": now + timedelta(seconds=settings.mail.lease_seconds),
        "leased_by": worker,
    }
    if session.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
        lease["lease_epoch"] = func.pg_postmaster_start_time()
    # Core statements on the session's connection: a thousand rows each, no ORM objects.
    conn = session.connection()
    claimed = conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(chosen.scalar_subquery()))
        .values(**lease)
        .returning(DELIVERIES.c.id, DELIVERIES.c.subscriber_id, DELIVERIES.c.attempts)
    ).all()
    if not claimed:
        return [], 0
    people = {
        row.id: row
        for row in conn.execute(
            select(
                SUBSCRIBERS.c.id,
                SUBSCRIBERS.c.email,
                SUBSCRIBERS.c.name,
                SUBSCRIBERS.c.locale,
                SUBSCRIBERS.c.status,
                SUBSCRIBERS.c.confirmed_at,
                SUBSCRIBERS.c.paused_until,
            ).where(
                SUBSCRIBERS.c.id.in_(
                    [row.subscriber_id for row in claimed if row.subscriber_id is not None]
                )
            )
        )
    }
    unreachable = reach.screen(
        session,
        settings,
        (
            reach.Reader(p.id, p.email, p.status, p.confirmed_at, p.paused_until)
            for p in people.values()
        ),
        now=now,
    )
    readers = [sid for sid in people if sid not in unreachable]
    topics, left_out = _per_reader(session, edition_id, readers)
    ready: list[Recipient] = []
    skips: list[dict[str, Any]] = []
    for row in claimed:
        person = people.get(row.subscriber_id) if row.subscriber_id is not None else None
        reason = "subscriber erased" if person is None else unreachable.get(person.id)
        if reason is not None:
            skips.append({"row_id": row.id, "reason": reason})
            continue
        assert person is not None
        ready.append(
            Recipient(
                row.id,
                person.id,
                person.email,
                person.name,
                person.locale,
                row.attempts,
                frozenset(topics.get(person.id, ())),
                left_out.get(person.id, frozenset()),
            )
        )
    if skips:
        _skip_rows(conn, skips)
    return ready, len(skips)


#: Editions that leave out, per reader, the items a reader already received elsewhere.
ONCE_PER_READER_KINDS = ("newsletter", "alert", "digest")


def _per_reader(
    session: Session, edition_id: int, subscriber_ids: list[int]
) -> tuple[dict[int, set[str]], dict[int, frozenset[int]]]:
    """Per reader: the topics a per-topic edition shows them (a digest, an alert that names
    its topics: those they follow at its rhythm), and the items they already received."""
    kind, spec, whole = session.execute(
        select(Edition.kind, Edition.audience, Edition.send_whole).where(Edition.id == edition_id)
    ).one()
    spec = spec or {}
    if not subscriber_ids:
        return {}, {}
    topics: dict[int, set[str]] = {}
    if kind == "digest" or (kind == "alert" and spec.get("topics")):
        topics = reach.followed_topics(session, subscriber_ids, frequency=spec.get("frequency"))
    left_out: dict[int, frozenset[int]] = {}
    if kind in ONCE_PER_READER_KINDS and not whole:
        item_ids = session.scalars(
            select(EditionItem.item_id).where(EditionItem.edition_id == edition_id)
        )
        left_out = already_received(session, subscriber_ids, item_ids, besides_edition=edition_id)
    return topics, left_out


def _skip_rows(conn: Connection, skips: list[dict[str, Any]]) -> None:
    conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == bindparam("row_id"))
        .values(status="skipped", error=bindparam("reason"), lease_until=None, leased_by=None),
        skips,
    )
