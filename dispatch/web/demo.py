"""Embedded mode only: serves the demo's sample feeds, so the demo sources poll a real URL."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.demo import DATA, FEEDS, demo_agenda, demo_agenda_seeded_at
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()


@router.get("/demo/feeds/{name}")
def demo_feed(name: str, request: Request, session: Session = SessionDep) -> Response:
    if name not in FEEDS:
        raise HTTPException(status_code=404)
    if name == "agenda.ics":
        seeded_at = demo_agenda_seeded_at(session, settings_of(request))
        if seeded_at is not None:
            return Response(demo_agenda(seeded_at), media_type=FEEDS[name])
    return Response((DATA / name).read_bytes(), media_type=FEEDS[name])
