"""What the content and team pages share: pages of rows, notices after a redirect, dates in
the staff member's words, posted forms with repeated fields, and who may act.

A change is a POST answered with a redirect to the page it came from, carrying `done=<key>`:
the page shows the notice that key names (message ids, translated), so reloading it posts
nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from dispatch import i18n
from dispatch.staff.roles import Permission, may
from dispatch.web.admin.guard import Staff
from dispatch.web.admin.words import translate

PAGE_SIZE = 50


def locale_of(staff: Staff) -> str:
    return staff.user.language if staff.user.language in ("fr", "en") else "fr"


def words(staff: Staff, msgid: str, **values: Any) -> str:
    """A message id in the staff member's language, with its %(name)s values filled in."""
    text = translate(locale_of(staff), msgid)
    return text % values if values else text


def when(staff: Staff, value: datetime | None, timezone: str = "Europe/Paris") -> str:
    """« mardi 1er décembre 2026, 9 h 00 », in the configured zone; "—" for nothing."""
    if value is None:
        return "—"
    return i18n.format_moment(value, locale_of(staff), timezone=timezone)


def may_act(staff: Staff, permission: Permission) -> bool:
    return may(staff.actor, permission)


def notice(request: Request, staff: Staff, notices: dict[str, str]) -> str | None:
    """The notice `?done=key` names, in the staff member's language."""
    key = request.query_params.get("done", "")
    return words(staff, notices[key]) if key in notices else None


def back(path: str, done: str, **params: Any) -> RedirectResponse:
    """303 to `path` with `done` (and `params`) in its query: the page then says what happened."""
    query = urlencode({"done": done, **{k: v for k, v in params.items() if v is not None}})
    anchor = ""
    if "#" in path:
        path, anchor = path.split("#", 1)
        anchor = "#" + anchor
    return RedirectResponse(f"{path}?{query}{anchor}", status_code=303)


async def posted(request: Request) -> FormData:
    """The posted form with every value of repeated fields (checkboxes); Starlette keeps
    the parsed form, so the CSRF check's reading of it is not repeated."""
    return await request.form()


PostedDep = Depends(posted)


def texts(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str) and value.strip()]


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class Pager:
    """One page of rows newest first, by id: `next_url` shows the older ones."""

    rows: list[Any]
    next_url: str | None
    first_url: str | None


def pager(request: Request, found: list[Any], *, size: int = PAGE_SIZE, key: str = "id") -> Pager:
    """`found` holds up to `size + 1` rows (one more tells there is a next page)."""
    rows = found[:size]
    params = {k: v for k, v in request.query_params.items() if k not in ("before", "done")}
    path = request.url.path
    next_url = None
    if len(found) > size:
        last = rows[-1]
        value = last[key] if isinstance(last, dict) else getattr(last, key)
        next_url = f"{path}?{urlencode({**params, 'before': value})}"
    first_url = None
    if request.query_params.get("before"):
        first_url = f"{path}?{urlencode(params)}" if params else path
    return Pager(rows, next_url, first_url)


def before_of(request: Request) -> int | None:
    value = request.query_params.get("before", "")
    return int(value) if value.isdigit() else None


def day(value: str, timezone: str, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD of a date field as a moment (the day's end when `end`); None if empty or
    not a date."""
    if not value.strip():
        return None
    try:
        moment = i18n.parse_local(value.strip()[:10], timezone=timezone)
    except ValueError:
        return None
    return moment + timedelta(days=1) if end else moment
