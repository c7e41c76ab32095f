"""Embedded mode only: serves the demo's sample feeds, so the demo sources poll a real URL."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from dispatch.demo import DATA, FEEDS

router = APIRouter()


@router.get("/demo/feeds/{name}")
def demo_feed(name: str) -> Response:
    if name not in FEEDS:
        raise HTTPException(status_code=404)
    return Response((DATA / name).read_bytes(), media_type=FEEDS[name])
