"""Health: the public `GET /healthz` says only ok or degraded; the detailed report
(database, broker, worker heartbeats, with error texts naming hosts and ports) is for staff.

`report` is the one function that checks; the public route reduces it to its status, so a
load balancer or uptime monitor learns nothing about the inside.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from dispatch import health

router = APIRouter()


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    details: dict[str, Any]

    @property
    def status(self) -> str:
        return "ok" if self.ok else "degraded"


def report(app: FastAPI, session: Session | None = None) -> HealthReport:
    """Database reachability, the broker through the doorbell, the last heartbeats: for
    staff only, since error texts name internal hosts and ports. A request that already
    holds a `session` (the API's, which has written its token's use) checks through it:
    on SQLite a second connection would wait for that one's lock."""
    database = (
        health.check_database(app.state.engine)
        if session is None
        else health.check_session(session)
    )
    reach = app.state.doorbell.check()
    broker: dict[str, Any] = (
        {"ok": True, "transport": reach.detail}
        if reach.ok
        else {"ok": False, "error": reach.detail}
    )
    details: dict[str, Any] = {"database": database, "broker": broker}
    if database["ok"]:
        with contextlib.nullcontext(session) if session else app.state.sessions() as reading:
            details["heartbeats"] = {
                name: at.isoformat() for name, at in health.last_beats(reading).items()
            }
    ok = bool(database["ok"] and broker["ok"])
    return HealthReport(ok, {"status": "ok" if ok else "degraded", **details})


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Public: `{"status": "ok"}`, or `{"status": "degraded"}` with HTTP 503."""
    checked = report(request.app)
    return JSONResponse({"status": checked.status}, status_code=200 if checked.ok else 503)
