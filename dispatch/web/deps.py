"""What every route receives: the request's unit of work, the settings, the posted form.

The unit of work is the boundary: handlers (and the services they call) only flush. It is
committed when the handler returns, before the response is sent, so a reader who follows the
next link sees what this request did; rings asked for with `doorbell.ring_after_commit` go out
after that commit. An exception rolls everything back, rings included.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.db import session_scope
from dispatch.doorbell import SESSION_DOORBELL


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessions) as session:
        session.info[SESSION_DOORBELL] = request.app.state.doorbell
        yield session


# "function": the exit code (the commit) runs when the handler returns, not after sending.
SessionDep = Depends(get_session, scope="function")


def client_ip(request: Request) -> str | None:
    """The address of the person on the other end, as every limit and record sees it."""
    return request.client.host if request.client else None


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form (urlencoded or multipart) as text fields; files are ignored."""
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


FormDep = Depends(form_fields)
