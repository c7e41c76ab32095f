"""Health: the public `GET /healthz` says only ok or degraded; the detailed report
(database, broker, worker heartbeats, with error texts naming hosts and ports) is for staff.

`report` is the one function that checks; the public route reduces it to its status, so a
load balancer or uptime monitor learns nothing about the inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from dispatch import health

router = APIRouter()


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    details: dict[str, Any]

    @property
    def status(self) -> str:
        return "ok" if self.ok else "degraded"


def report(app: FastAPI) -> HealthReport:
    """Database reachability, the broker through the doorbell, the last heartbeats: for
    staff only, since error texts name internal hosts and ports."""
    database = health.check_database(app.state.engine)
    reach = app.state.doorbell.check()
    broker: dict[str, Any] = (
        {"ok": True, "transport": reach.detail}
        if reach.ok
        else {"ok": False, "error": reach.detail}
    )
    details: dict[str, Any] = {"database": database, "broker": broker}
    if database["ok"]:
        with app.state.sessions() as session:
            details["heartbeats"] = {
                name: at.isoformat() for name, at in health.last_beats(session).items()
            }
    ok = bool(database["ok"] and broker["ok"])
    return HealthReport(ok, {"status": "ok" if ok else "degraded", **details})


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Public: `{"status": "ok"}`, or `{"status": "degraded"}` with HTTP 503."""
    checked = report(request.app)
    return JSONResponse({"status": checked.status}, status_code=200 if checked.ok else 503)
