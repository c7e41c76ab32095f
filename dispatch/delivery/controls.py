"""Controlling a send: start now, pause, resume, cancel, and watch its progress.

Scheduling is the edition's own (`dispatch.editions.schedule`). Functions take a session
first and flush; the caller commits, then enqueues the batch tasks a result asks for
(`StartResult.batches`, `resume`'s return value).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery.ledger import rows_by_status
from dispatch.delivery.models import Delivery
from dispatch.delivery.snapshot import PARALLEL_BATCHES, StartResult, start_edition
from dispatch.editions.errors import EditionStateError
from dispatch.editions.models import Edition
from dispatch.editions.schedule import locked_edition as _edition

#: Window over which the current sending rate is measured.
RATE_WINDOW = timedelta(minutes=1)


def _record(session: Session, action: str, edition: Edition) -> None:
    audit.record(
        session,
        action,
        object_type="edition",
        object_id=edition.id,
        summary={"subject": edition.subject},
    )


def send_now(
    session: Session, edition_id: int, *, settings: Settings, now: datetime | None = None
) -> StartResult:
    """Start sending at once (snapshots the audience); enqueue `result.batches` after commit."""
    edition = _edition(session, edition_id)
    if edition.status == "paused" and edition.started_at is None:
        edition.status = "scheduled"
    now = now or utcnow()
    if edition.status in ("draft", "scheduled"):
        edition.send_at = now
    result = start_edition(session, edition_id, settings=settings, now=now)
    audit.record(
        session,
        "edition.sent",
        object_type="edition",
        object_id=edition_id,
        summary={"recipients": result.recipients},
    )
    return result


def pause(session: Session, edition_id: int, *, reason: str = "Paused by staff.") -> Edition:
    """Stop a sending or scheduled edition; running batches stop within about a second."""
    edition = _edition(session, edition_id)
    if edition.status == "paused":
        return edition
    if edition.status not in ("sending", "scheduled"):
        raise EditionStateError(
            f"Edition {edition_id} is {edition.status}: only a sending or scheduled edition "
            "can be paused."
        )
    edition.status = "paused"
    edition.status_reason = reason
    session.flush()
    _record(session, "edition.paused", edition)
    return edition


def resume(session: Session, edition_id: int) -> int:
    """Resume a paused edition; returns how many batch tasks to enqueue after commit."""
    edition = _edition(session, edition_id)
    if edition.status != "paused":
        raise EditionStateError(
            f"Edition {edition_id} is {edition.status}: only a paused edition can be resumed."
        )
    edition.status_reason = None
    edition.consecutive_errors = 0
    _record(session, "edition.resumed", edition)
    if edition.started_at is None:
        edition.status = "scheduled"  # the sweeper starts it at send_at
        session.flush()
        return 0
    edition.status = "sending"
    # Rows pushed back by the automatic pause or backoff may go again right away.
    session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == "queued")
        .values(next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return PARALLEL_BATCHES


def cancel(session: Session, edition_id: int) -> Edition:
    """Stop for good: rows not sent yet are skipped; running batches stop within a second."""
    edition = _edition(session, edition_id)
    if edition.status in ("sent", "cancelled"):
        raise EditionStateError(f"Edition {edition_id} is already {edition.status}.")
    edition.status = "cancelled"
    edition.finished_at = utcnow()
    session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == "queued")
        .values(status="skipped", error="edition cancelled")
        .execution_options(synchronize_session=False)
    )
    session.flush()
    _record(session, "edition.cancelled", edition)
    return edition


def status(session: Session, edition_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Where a send stands: counts by status, current rate (messages/s) and estimated end."""
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise EditionStateError(f"Edition {edition_id} does not exist.")
    now = now or utcnow()
    counts = rows_by_status(session, edition_id)
    recent = (
        session.scalar(
            select(func.count()).where(
                Delivery.edition_id == edition_id,
                Delivery.status == "sent",
                Delivery.sent_at >= now - RATE_WINDOW,
            )
        )
        or 0
    )
    rate = recent / RATE_WINDOW.total_seconds()
    remaining = counts["queued"] + counts["sending"]
    estimated_end = None
    if edition.status == "sending" and remaining and rate > 0:
        estimated_end = now + timedelta(seconds=remaining / rate)
    total = sum(counts.values())
    done = total - remaining
    return {
        "id": edition.id,
        "subject": edition.subject,
        "status": edition.status,
        "status_reason": edition.status_reason,
        "send_at": _iso(edition.send_at),
        "started_at": _iso(edition.started_at),
        "finished_at": _iso(edition.finished_at),
        "recipients": total,
        # False while the audience snapshot is still being written (recipients grows).
        "audience_complete": edition.audience_built_at is not None
        or edition.max_subscriber_id is None,
        "counts": counts,
        "done": done,
        "progress": round(done / total, 4) if total else (1.0 if edition.status == "sent" else 0.0),
        "rate_per_second": round(rate, 2),
        "estimated_end": _iso(estimated_end),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
