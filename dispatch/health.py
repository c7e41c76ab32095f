"""Liveness facts staff can see: database reachability, last worker and beat beats.

The broker's reachability is the doorbell's to tell (`dispatch.doorbell`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.db import Base, utcnow


class Heartbeat(Base):
    """The last time each process kind (worker, beat) proved it was running."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime]


def beat(session: Session, name: str) -> None:
    row = session.get(Heartbeat, name)
    if row is None:
        session.add(Heartbeat(name=name, at=utcnow()))
    else:
        row.at = utcnow()
    session.flush()


def last_beats(session: Session) -> dict[str, datetime]:
    return {row.name: row.at for row in session.scalars(select(Heartbeat))}


def check_database(engine: Engine) -> dict[str, Any]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "down", reported as such
        return {"ok": False, "error": _short(exc)}
    return {"ok": True, "backend": engine.dialect.name}


def check_session(session: Session) -> dict[str, Any]:
    """`check_database` through a session already open (its transaction is kept)."""
    try:
        with session.begin_nested():
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "down", reported as such
        return {"ok": False, "error": _short(exc)}
    return {"ok": True, "backend": session.get_bind().dialect.name}


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
