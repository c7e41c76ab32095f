"""`/r/{edition}/{link}/{signature}`: a link of an email followed, counted, and sent on.

Only with `mail.link_counts` on do emails carry these links (`dispatch.editions.links`).
The answer is a 302 to the target stored for that edition and link, and only when the
signature was made for that very target: any other address gets the public not-found page,
so nobody can use the route to send a reader elsewhere. No cookie is set, and nothing about
the visitor is written: one link's count goes up by one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch.editions import links
from dispatch.web.deps import SessionDep, settings_of
from dispatch.web.pages import not_found

router = APIRouter()


@router.get("/r/{edition_id:int}/{link_id}/{signature}", include_in_schema=False)
def follow_link(
    edition_id: int, link_id: str, signature: str, request: Request, session: Session = SessionDep
) -> Response:
    target = links.follow(session, settings_of(request), edition_id, link_id, signature)
    if target is None:
        return not_found(request)
    # no-store: a browser that remembered the answer would follow the link again uncounted.
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
