"""When an edition goes out: scheduling a draft, and the error every state change raises.

Starting, pausing, resuming and cancelling a send touch its delivery rows, so they live with
the sending engine (`dispatch.delivery.controls`); scheduling only sets the time beat's
delivery tick looks at.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dispatch import audit, i18n
from dispatch.db import utcnow
from dispatch.editions.errors import EditionStateError
from dispatch.editions.models import Edition

__all__ = ["EditionStateError", "locked_edition", "parse_send_at", "schedule_edition"]


def locked_edition(session: Session, edition_id: int) -> Edition:
    """The edition, locked for the rest of the transaction on PostgreSQL."""
    edition = session.get(Edition, edition_id, with_for_update=True)
    if edition is None:
        raise EditionStateError(f"Edition {edition_id} does not exist.")
    return edition


def parse_send_at(text: str, *, timezone: str = "Europe/Paris") -> datetime:
    """``"2026-12-01 09:00"`` in `timezone`, or with an explicit offset (``+01:00``, ``Z``)."""
    try:
        return i18n.parse_local(text, timezone=timezone)
    except ValueError as error:
        raise EditionStateError(str(error)) from error


def schedule_edition(
    session: Session, edition_id: int, *, send_at: datetime, now: datetime | None = None
) -> Edition:
    """Schedule a draft (or re-schedule a scheduled or not yet started paused) edition."""
    if send_at.tzinfo is None:
        raise EditionStateError("The send time needs a time zone.")
    edition = locked_edition(session, edition_id)
    now = now or utcnow()
    if edition.status not in ("draft", "scheduled") and not (
        edition.status == "paused" and edition.started_at is None
    ):
        raise EditionStateError(
            f"Edition {edition_id} is {edition.status}: only a draft or scheduled edition "
            "can be scheduled."
        )
    if send_at < now - timedelta(minutes=1):
        raise EditionStateError(
            f"{i18n.staff_time(send_at)} is in the past: use `send --now` to send at once."
        )
    before = edition.send_at.isoformat() if edition.send_at else None
    edition.status = "scheduled"
    edition.send_at = send_at
    edition.status_reason = None
    session.flush()
    audit.record(
        session,
        "edition.scheduled",
        object_type="edition",
        object_id=edition.id,
        summary={"before": before, "after": send_at.isoformat()},
    )
    return edition
