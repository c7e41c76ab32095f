"""Change and cancellation notices: readers who received an event hear when it moves or is off.

Content records each change of an event's time or place, and each cancellation, as an
`EventChange` (`dispatch.content.changes`). Each one is decided once (`EventNotice`, unique
per change): the changes of one event waiting together make one notice, about where the
event stands now and what readers knew before. Whether to send is one function, `decide`,
which the editorial desk will take over; until then a notice goes unless the event is over
or was never sent to anyone.

A notice is an "event" edition (phase "changed" or "cancelled") with the event's updated
calendar file: its SEQUENCE is one more, and a cancellation is ``METHOD:CANCEL``, so the
reader's calendar follows. It goes to the reachable readers who were sent the event in any
edition (the audience snapshot reads that from the delivery ledger), in each one's language.
A cancellation also stops the event's reminders that have not gone yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.content.models import ContentItem, EventChange
from dispatch.db import utcnow
from dispatch.editions.models import Edition, EditionItem, EventNotice

#: Changes read per tick; a longer backlog is worked through by the following ticks.
CHANGES_PER_TICK = 200
#: Editions whose readers have (or are being sent) the event.
_OUT = ("sending", "paused", "sent")


@dataclass(frozen=True)
class Decision:
    """Whether to tell readers about a change: "send", or why not ("past", "nobody")."""

    outcome: str
    reason: str = ""

    @property
    def send(self) -> bool:
        return self.outcome == "send"


@dataclass
class NoticeReport:
    created: list[int] = field(default_factory=list)  # notice edition ids
    decided: dict[int, str] = field(default_factory=dict)  # change id -> outcome
    reminders_stopped: list[int] = field(default_factory=list)


def was_sent(session: Session, item_id: int, *, excluding: int | None = None) -> bool:
    """Whether the event went out in an edition (an alert, newsletter, digest, reminder…)."""
    query = (
        select(Edition.id)
        .join(EditionItem, EditionItem.edition_id == Edition.id)
        .where(EditionItem.item_id == item_id, Edition.status.in_(_OUT))
    )
    if excluding is not None:
        query = query.where(Edition.id != excluding)
    return session.scalar(query.limit(1)) is not None


def decide(session: Session, item: ContentItem, kind: str, *, now: datetime) -> Decision:
    """Whether a change of `item` ("changed" or "cancelled") is told to its readers.

    The one place this is decided: the editorial desk takes it over when it exists.
    """
    end = item.event_end or item.event_start
    if end is not None and item.all_day:
        end = end + timedelta(days=1)
    if end is not None and end < now:
        return Decision("past", "the event is over")
    if not was_sent(session, item.id):
        return Decision("nobody", "the event was never sent to anyone")
    return Decision("send")


def pending_changes(session: Session, *, limit: int = CHANGES_PER_TICK) -> list[EventChange]:
    """Changes not decided yet, oldest first."""
    decided = exists().where(EventNotice.change_id == EventChange.id)
    return list(
        session.scalars(select(EventChange).where(~decided).order_by(EventChange.id).limit(limit))
    )


def _stop_reminders(session: Session, item_id: int, now: datetime) -> list[int]:
    """Reminders of a cancelled event not sent yet are cancelled (the sweeper skips rows)."""
    waiting = list(
        session.scalars(
            select(Edition.id)
            .join(EditionItem, EditionItem.edition_id == Edition.id)
            .where(
                EditionItem.item_id == item_id,
                Edition.kind == "event",
                Edition.period_key.like("reminder:%"),
                Edition.status.in_(("draft", "scheduled", "sending", "paused")),
            )
        )
    )
    if waiting:
        session.execute(
            update(Edition)
            .where(Edition.id.in_(waiting))
            .values(
                status="cancelled",
                finished_at=now,
                status_reason="the event was cancelled",
            )
            .execution_options(synchronize_session=False)
        )
    return waiting


def _notice_edition(
    session: Session, item: ContentItem, changes: Sequence[EventChange], now: datetime
) -> Edition:
    latest = changes[-1]
    edition = Edition(
        kind="event",
        template="event",
        subject="",
        locale=None,
        audience={
            "phase": latest.kind,
            "event": item.id,
            "change": latest.id,
            "sequence": latest.sequence,
            # What readers knew: before the first of the changes told together.
            "before": changes[0].before,
        },
        status="scheduled",
        send_at=now,
        period_key=f"notice:{latest.id}",
    )
    session.add(edition)
    session.flush()
    session.add(EditionItem(edition_id=edition.id, item_id=item.id, position=0))
    return edition


def _handle(
    session: Session, changes: list[EventChange], now: datetime, report: NoticeReport
) -> None:
    item = changes[-1].item
    latest = changes[-1]
    decision = decide(session, item, latest.kind, now=now)
    edition = _notice_edition(session, item, changes, now) if decision.send else None
    for change in changes:
        if change is latest:
            outcome, reason = ("sent", "") if decision.send else (decision.outcome, decision.reason)
        else:
            outcome, reason = "superseded", f"told with change {latest.id}"
        session.add(
            EventNotice(
                change_id=change.id,
                item_id=item.id,
                outcome=outcome,
                reason=reason,
                edition_id=edition.id if edition is not None and change is latest else None,
                decided_at=now,
            )
        )
        report.decided[change.id] = outcome
    session.flush()
    if edition is not None:
        report.created.append(edition.id)


def create_notices(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> NoticeReport:
    """Beat: decide every pending change (see the module); flushes, the caller commits.

    Two ticks running together decide each change once: the second one's notice rows lose
    on the unique change id and its savepoint is rolled back.
    """
    now = now or utcnow()
    report = NoticeReport()
    by_item: dict[int, list[EventChange]] = {}
    for change in pending_changes(session):
        by_item.setdefault(change.item_id, []).append(change)
    for item_id, changes in by_item.items():
        try:
            with session.begin_nested():
                if changes[-1].kind == "cancelled":
                    report.reminders_stopped += _stop_reminders(session, item_id, now)
                _handle(session, changes, now, report)
        except IntegrityError:
            continue  # another tick decided them first
    return report
