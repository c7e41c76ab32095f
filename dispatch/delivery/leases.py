"""Who holds a delivery row while it is being sent, and when a lease may be taken back.

A lease names its holder (``host/pid-namespace/pid``) and an expiry. An expired lease goes
back to the queue; so does one whose holder is known dead on this machine, at once, and on
PostgreSQL one granted before the database server last started (its holder's connection died
with the server, and a batch that cannot mark stops before its next message).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dispatch.delivery.models import Delivery


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "-"


def worker_identity() -> str:
    """``host/pid-namespace/pid``: enough to tell, on the same machine, that a holder died."""
    return f"{socket.gethostname()}/{_pid_namespace()}/{os.getpid()}"


def holder_is_dead(holder: str | None) -> bool:
    """True only when `holder` ran on this machine, in this pid namespace, and is gone.

    A lease held by a process that was killed need not wait for its expiry. Anything
    uncertain (another machine, a reused pid) counts as alive: the lease then expires.
    """
    if not holder:
        return False
    host, _, rest = holder.partition("/")
    namespace, _, pid_text = rest.partition("/")
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid_text.isdigit():
        return False
    try:
        import psutil

        return psutil.Process(int(pid_text)).status() == psutil.STATUS_ZOMBIE
    except ImportError:
        pass
    except Exception:  # psutil.NoSuchProcess and friends
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_expired(session: Session, *, now: datetime) -> int:
    """Put rows back in the queue whose lease expired, whose holder died on this machine, or
    (PostgreSQL) whose lease outlived the database server that granted it."""
    dead = [
        holder
        for holder in session.scalars(
            select(Delivery.leased_by).where(Delivery.status == "sending").distinct()
        )
        if holder_is_dead(holder)
    ]
    condition = Delivery.lease_until < now
    if dead:
        condition = or_(condition, Delivery.leased_by.in_(dead))
    if session.get_bind().dialect.name == "postgresql":
        condition = or_(condition, Delivery.lease_epoch < func.pg_postmaster_start_time())
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", condition)
        .values(status="queued", lease_until=None, leased_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
