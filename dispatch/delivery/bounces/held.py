"""Held reports: returned mail that proves no delivery, or that could not be read, kept for
staff to look at. Holding changes no subscriber; staff apply or discard each one
(`dispatch bounces held | apply | discard`), applying goes through `handling.apply_held`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.db import utcnow
from dispatch.delivery.bounces.reports import BounceReport
from dispatch.delivery.models import HeldReport

NO_PROOF = (
    "no signed return path or X-Dispatch-Delivery header: nothing proves which delivery it "
    "is about, and anyone can write to the bounce mailbox"
)


class HeldReportError(Exception):
    """A held report that cannot be applied or discarded; the message says why."""


def hold(session: Session, report: BounceReport, *, source_ref: str, reason: str) -> HeldReport:
    """Keep `report` for review (once per `source_ref`). Flushes."""
    existing = session.scalar(select(HeldReport).where(HeldReport.source_ref == source_ref))
    if existing is not None:
        return existing
    row = HeldReport(
        kind=report.kind.value,
        recipients="\n".join(report.recipients),
        status_code=report.status,
        diagnostic=report.diagnostic[:2000] or None,
        feedback_type=report.feedback_type,
        origin=report.origin[:1000],
        reason=reason,
        source_ref=source_ref[:300],
    )
    session.add(row)
    session.flush()
    return row


def hold_unreadable(session: Session, *, source_ref: str, reason: str) -> HeldReport:
    """Note a message that was set aside without being read (too large, or unparseable)."""
    existing = session.scalar(select(HeldReport).where(HeldReport.source_ref == source_ref))
    if existing is not None:
        return existing
    row = HeldReport(kind="unreadable", reason=reason, source_ref=source_ref[:300])
    session.add(row)
    session.flush()
    return row


def is_held(session: Session, source_ref: str) -> bool:
    return (
        session.scalar(select(HeldReport.id).where(HeldReport.source_ref == source_ref)) is not None
    )


def list_held(session: Session, *, include_resolved: bool = False) -> list[HeldReport]:
    """Held reports, oldest first; only those still waiting for staff unless asked."""
    query = select(HeldReport).order_by(HeldReport.id)
    if not include_resolved:
        query = query.where(HeldReport.resolved_at.is_(None))
    return list(session.scalars(query))


def waiting(session: Session, held_id: int) -> HeldReport:
    """The held report `held_id` if it still waits for a decision; HeldReportError if not."""
    row = session.get(HeldReport, held_id)
    if row is None:
        raise HeldReportError(f"no held report {held_id}")
    if row.resolved_at is not None:
        raise HeldReportError(f"held report {held_id} was already {row.resolution}")
    return row


def resolve(row: HeldReport, resolution: str, outcome: str) -> None:
    row.resolved_at = utcnow()
    row.resolution = resolution
    row.outcome = outcome


def discard(session: Session, held_id: int) -> HeldReport:
    """Staff decided the report is not to be believed (or was looked at): it stays listed
    with `--all`, and changes nothing."""
    row = waiting(session, held_id)
    resolve(row, "discarded", "discarded by staff")
    audit.record(session, "bounce.held_discarded", object_type="held_report", object_id=row.id)
    return row


def held_as_dict(row: HeldReport) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "recipients": [a for a in row.recipients.split("\n") if a],
        "status_code": row.status_code,
        "diagnostic": row.diagnostic,
        "feedback_type": row.feedback_type,
        "origin": row.origin,
        "reason": row.reason,
        "source_ref": row.source_ref,
        "received_at": row.received_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution": row.resolution,
        "outcome": row.outcome,
    }
