"""The delivery tick, run by beat: what makes sending recover without the broker's help.

Each tick, in one transaction: rows whose lease expired (or whose holder died, on this
machine, or whose database server restarted since) go back to the queue; scheduled editions
that are due start; editions that are sending but have due rows and no live lease get batch
tasks again; audience snapshots left unfinished by a process that died are handed on;
cancelled editions' leftover rows are skipped; editions with nothing left open are marked
sent. The caller enqueues `SweepResult.batches` and `SweepResult.audiences` after committing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery.claims import has_due_rows
from dispatch.delivery.leases import release_expired
from dispatch.delivery.ledger import finish_if_done
from dispatch.delivery.models import Delivery
from dispatch.delivery.snapshot import (
    PARALLEL_BATCHES,
    StartResult,
    snapshots_to_resume,
    start_edition,
)
from dispatch.editions.errors import EditionStateError
from dispatch.editions.models import Edition
from dispatch.ratelimit import RateCounter

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    released: int = 0
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    # edition id -> number of batch tasks to enqueue after commit
    batches: dict[int, int] = field(default_factory=dict)
    # editions whose audience snapshot needs a "delivery.build_audience" task after commit
    audiences: list[int] = field(default_factory=list)


def start_due_editions(
    session: Session, *, settings: Settings, now: datetime
) -> dict[int, StartResult]:
    """Start every scheduled edition whose time has come."""
    due = session.scalars(
        select(Edition.id).where(Edition.status == "scheduled", Edition.send_at <= now)
    ).all()
    started: dict[int, StartResult] = {}
    for edition_id in due:
        try:
            result = start_edition(session, edition_id, settings=settings, now=now)
        except EditionStateError as error:  # changed by staff meanwhile
            log.info("not starting edition %s: %s", edition_id, error)
            continue
        started[edition_id] = result
    return started


def editions_needing_batches(session: Session, *, now: datetime) -> list[int]:
    """Sending editions with due queued rows and no live lease: their batch chain broke."""
    sending = session.scalars(select(Edition.id).where(Edition.status == "sending")).all()
    needing = []
    for edition_id in sending:
        live = session.scalar(
            select(Delivery.id)
            .where(
                Delivery.edition_id == edition_id,
                Delivery.status == "sending",
                Delivery.lease_until >= now,
            )
            .limit(1)
        )
        if live is None and has_due_rows(session, edition_id, now):
            needing.append(edition_id)
    return needing


def skip_cancelled(session: Session) -> int:
    cancelled = select(Edition.id).where(Edition.status == "cancelled")
    result = session.execute(
        update(Delivery)
        .where(Delivery.edition_id.in_(cancelled), Delivery.status == "queued")
        .values(status="skipped", error="edition cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def sweep(session: Session, *, settings: Settings, now: datetime | None = None) -> SweepResult:
    """One tick; flushes, the caller commits and then enqueues `result.batches`."""
    now = now or utcnow()
    result = SweepResult()
    result.released = release_expired(session, now=now)
    skip_cancelled(session)
    started = start_due_editions(session, settings=settings, now=now)
    result.started = list(started)
    result.batches.update({k: v.batches for k, v in started.items() if v.batches})
    result.audiences = [k for k, v in started.items() if v.audience_pending]
    for edition_id in snapshots_to_resume(session, now=now):
        if edition_id not in result.audiences:
            result.audiences.append(edition_id)
    for edition_id in editions_needing_batches(session, now=now):
        result.batches.setdefault(edition_id, PARALLEL_BATCHES)
    for edition_id in session.scalars(select(Edition.id).where(Edition.status == "sending")).all():
        if finish_if_done(session, edition_id, now=now):
            result.finished.append(edition_id)
    # Throttle windows older than two hours are of no use to anyone.
    session.execute(
        delete(RateCounter).where(
            RateCounter.key.like("send:%"), RateCounter.window_start < now - timedelta(hours=2)
        )
    )
    session.flush()
    return result
