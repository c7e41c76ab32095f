"""Who did what, when: the actor of each unit of work, and the append-only audit trail.

The boundary that opens a unit of work says who acts (`acting(session, actor)`): the web
request for the logged-in person or the API token's owner, the command line for the
operator, a task for the system. Services that change something a person decided record it
with `record(session, "edition.scheduled", ...)`, in the same transaction, so an action and
its trace commit or roll back together. Rows are never changed afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.db import Base, utcnow

ActorKind = Literal["staff", "operator", "system"]
Via = Literal["web", "api", "cli", "task"]
_SESSION_ACTOR = "dispatch.actor"


@dataclass(frozen=True)
class Actor:
    """Who a unit of work acts for.

    `staff`: a person with an account (`staff_id`, `role`). `operator`: someone at the server's
    command line without naming an account (shell access is the owner's power). `system`: beat
    and the workers doing what rows ask. `scope` narrows a staff member's role when they act
    through an API token ("read" or "write").
    """

    kind: ActorKind
    label: str
    via: Via
    staff_id: int | None = None
    role: str | None = None
    ip: str | None = None
    scope: str | None = None


SYSTEM = Actor("system", "system", "task")
_process_actor: Actor = SYSTEM


def acting(session: Session, actor: Actor) -> Session:
    """Make `actor` the one `session`'s work is recorded for; returns the session."""
    session.info[_SESSION_ACTOR] = actor
    return session


def act_as(actor: Actor) -> None:
    """The actor of every unit of work of this process that names none (the command line)."""
    global _process_actor
    _process_actor = actor


def process_actor() -> Actor:
    return _process_actor


def actor_of(session: Session) -> Actor:
    found: Actor | None = session.info.get(_SESSION_ACTOR)
    return found if found is not None else _process_actor


class AuditEvent(Base):
    """One staff action: who (with their role then), what, on which object, when, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The account, while it exists; `actor` keeps who it was (an email, "operator:…", "system").
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str | None] = mapped_column(String(20))
    via: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(100))
    # What changed, in a few words: {"before": …, "after": …} or the fields that matter.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise ValueError(f"audit event {target.id} is append-only and cannot be changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise ValueError(f"audit event {target.id} is append-only and cannot be deleted")


def record(
    session: Session,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    summary: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> AuditEvent:
    """Append what the current actor did; flushed with the rest of the unit of work."""
    who = actor or actor_of(session)
    row = AuditEvent(
        staff_id=who.staff_id,
        actor=who.label[:320],
        role=who.role,
        via=who.via,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:100],
        summary=summary or {},
        ip=who.ip,
    )
    session.add(row)
    session.flush()
    return row
