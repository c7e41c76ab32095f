"""`/events/{id}.ics`: every event's calendar file, the one "Ajouter à mon agenda" opens.

The same file the emails attach (`dispatch.editions.ics`): a stable UID, so that opening it
again, or a reminder's, updates the saved event; the SEQUENCE of the event's last change;
``METHOD:CANCEL`` once the event is cancelled. The bytes depend only on the event, so the
response carries an ETag and answers 304 to a calendar that asks again.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from dispatch.content.models import ContentItem
from dispatch.editions import ics
from dispatch.editions.compose import calendar_uid_domain
from dispatch.editions.service import branding, item_view
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()
MEDIA_TYPE = "text/calendar; charset=utf-8"


def calendar_file(item: ContentItem, request: Request) -> bytes:
    settings = settings_of(request)
    brand = branding(settings)
    view = item_view(item, base_url=settings.app.base_url)
    return ics.build_ics(
        [view],
        uid_domain=calendar_uid_domain(brand),
        method="CANCEL" if view.cancelled else "PUBLISH",
        timezone=settings.app.timezone,
        organiser=(brand.sender_name, brand.from_address),
    )


@router.get("/events/{item_id}.ics")
def event_calendar(item_id: int, request: Request, session: Session = SessionDep) -> Response:
    item = session.get(ContentItem, item_id)
    shown = item is not None and (item.status == "published" or item.event_status == "cancelled")
    if item is None or item.kind != "event" or item.event_start is None or not shown:
        raise HTTPException(status_code=404)
    data = calendar_file(item, request)
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=300",
        "Content-Disposition": f'attachment; filename="evenement-{item.id}.ics"',
        "X-Content-Type-Options": "nosniff",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=MEDIA_TYPE, headers=headers)
