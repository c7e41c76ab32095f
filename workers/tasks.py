"""Thin tasks: ids in, one session, a dispatch service call. Names are explicit and stable."""

from __future__ import annotations

from dispatch import health
from dispatch.db import session_scope
from workers.app import app


@app.task(name="system.heartbeat", acks_late=True, ignore_result=True)
def heartbeat(name: str = "worker") -> None:
    with session_scope() as session:
        health.beat(session, name)
