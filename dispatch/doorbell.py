"""The doorbell: how dispatch tells its workers "look now", without knowing who they are.

Rows are the source of truth: a due edition, a requested email, a claimed source, a post to
publish. A tick of beat finds each of them sooner or later; ringing only makes the work start
now. A ring that cannot be delivered is therefore logged and forgotten, never raised: the
request or command that rang has already committed what matters.

`workers/` implements `Doorbell` with Celery and installs it when a process starts. Code under
`dispatch/` rings by task name and ids: `ring(...)` at once, or `ring_after_commit(session,
...)` once the unit of work that wrote the rows has committed (and never if it rolls back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

#: `session.info` key naming the doorbell of one unit of work (the web app sets it per request).
SESSION_DOORBELL = "dispatch.doorbell"
_PENDING = "dispatch.doorbell.pending"


@dataclass(frozen=True)
class Reachability:
    """Whether the doorbell can be rung now; `detail` names the transport or the error."""

    ok: bool
    detail: str


class Doorbell(Protocol):
    def ring(self, task: str, *ids: int) -> None:
        """Ask for `task(*ids)` soon; never raises."""

    def check(self) -> Reachability:
        """Whether a ring would reach the workers now (for health checks)."""


class Unwired:
    """No workers wired in (a library use, a test): rings are logged, the ticks do the work."""

    def ring(self, task: str, *ids: int) -> None:
        log.info("no doorbell installed: %s%s waits for the next tick", task, ids)

    def check(self) -> Reachability:
        return Reachability(False, "no task broker is wired into this process")


_installed: Doorbell = Unwired()


def install(doorbell: Doorbell) -> None:
    """Make `doorbell` the process's own (called once, by the process's entry point)."""
    global _installed
    _installed = doorbell


def installed() -> Doorbell:
    return _installed


def _for(session: Session | None) -> Doorbell:
    if session is not None:
        own: Doorbell | None = session.info.get(SESSION_DOORBELL)
        if own is not None:
            return own
    return _installed


def ring(task: str, *ids: int, session: Session | None = None) -> None:
    """Ring now: for work whose rows are already committed."""
    try:
        _for(session).ring(task, *ids)
    except Exception:  # the doorbell's own promise is not to raise; a broken one must not either
        log.warning("could not ring %s%s; the next tick will find the work", task, ids)


def ring_after_commit(session: Session, task: str, *ids: int) -> None:
    """Ring once `session`'s transaction commits; forgotten if it rolls back."""
    pending: list[tuple[str, tuple[int, ...]]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session, "after_commit", _ring_pending)
        event.listen(session, "after_transaction_end", _forget_on_rollback)
    if (task, ids) not in pending:
        pending.append((task, ids))


def _ring_pending(session: Session) -> None:
    pending = session.info.get(_PENDING) or []
    rings, pending[:] = list(pending), []
    for task, ids in rings:
        ring(task, *ids, session=session)


def _forget_on_rollback(session: Session, transaction: SessionTransaction) -> None:
    # A committed outer transaction has already rung (after_commit runs first); whatever is
    # left when the outermost transaction ends was rolled back.
    if transaction.parent is None and not transaction.nested:
        pending = session.info.get(_PENDING)
        if pending:
            pending.clear()
