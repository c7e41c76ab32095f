"""Sources for staff: the list with what each last poll did in plain words, adding one
(with its topics and category→topic rules), polling now, pausing, resuming, removing.

"Poll now" claims the source and rings the doorbell (`content.poll_source`), as the API
does; a worker polls it and the page shows the result once it is in.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dispatch.content import sources, topics
from dispatch.content.errors import ContentError
from dispatch.content.models import Source, TopicRule
from dispatch.content.sanitise import is_http_url
from dispatch.doorbell import ring_after_commit
from dispatch.staff.roles import Permission
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.lists import (
    PostedDep,
    back,
    locale_of,
    may_act,
    notice,
    text,
    texts,
    when,
    words,
)
from dispatch.web.admin.render import message, render
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter()

KINDS = {
    "rss": "RSS feed",
    "atom": "Atom feed",
    "wordpress": "WordPress site",
    "ical": "iCal calendar",
}
NOTICES = {
    "added": "The source is added: it is read within a minute.",
    "polling": "The source is being read now; reload this page in a moment for the result.",
    "busy": "The source is already being read; reload this page in a moment for the result.",
    "paused": "The source is paused: it is not read until you resume it.",
    "resumed": "The source is resumed: it is read within a minute.",
    "removed": "The source is removed. Its items stay, with what was sent.",
    "rule-added": "The rule is added: new and edited items follow it.",
    "rule-removed": "The rule is removed.",
}
_COUNTS = re.compile(r"(\d+) (new|updated|unchanged|unpublished|changed or cancelled|skipped)")
#: The result's parts, as the page says them (message ids with a count).
_COUNT_WORDS = {
    "new": "%(n)s new",
    "updated": "%(n)s updated",
    "unchanged": "%(n)s unchanged",
    "unpublished": "%(n)s taken offline",
    "changed or cancelled": "%(n)s events changed or cancelled",
    "skipped": "%(n)s skipped",
}
#: What went wrong, recognised from the poller's message, in a person's words.
_ERRORS = (
    ("could not resolve", "The site's name is not found: check the address."),
    ("timed out", "The site took too long to answer."),
    ("could not connect", "The site does not answer."),
    ("TLS error", "The site's secure connection (certificate) is broken."),
    ("HTTP 404", "The address is not found on the site (error 404)."),
    ("HTTP 410", "The site says this address is gone (error 410)."),
    ("HTTP 401", "The site asks for a login (error 401)."),
    ("HTTP 403", "The site refuses to be read (error 403)."),
    ("HTTP 5", "The site has a problem of its own (server error)."),
    ("HTTP 429", "The site asks to be read less often (error 429)."),
    ("serves a web page", "The address shows a web page, not a feed: look for its RSS link."),
    ("not an RSS or Atom feed", "What the address gives is not an RSS or Atom feed."),
    ("not an iCalendar", "What the address gives is not an iCal calendar."),
    ("not JSON", "The site does not answer like a WordPress site."),
    ("larger than", "The feed is too large to read."),
    ("refused:", "This address may not be read (a private or local address)."),
    ("stopped the worker", "Reading it stopped the worker several times."),
)


def plain_result(staff: Staff, source: Source) -> str:
    """What the last poll did, for a person: counts, or nothing new, or never read yet."""
    if source.last_polled_at is None and not source.last_result:
        return words(staff, "Not read yet.")
    main = (source.last_result or "").split("; events:")[0]
    if source.last_status == "not_modified" or main.startswith("not modified"):
        return words(staff, "Nothing new since the read before.")
    parts = [words(staff, _COUNT_WORDS[kind], n=count) for count, kind in _COUNTS.findall(main)]
    return ", ".join(parts) + "." if parts else ""


def plain_error(staff: Staff, error: str | None) -> str:
    if not error:
        return ""
    for clue, msgid in _ERRORS:
        if clue in error:
            return words(staff, msgid)
    return words(staff, "The last read failed.")


def _events_result(staff: Staff, source: Source) -> str:
    """A WordPress site's events listing, read on its own: what its last read did."""
    if source.kind != "wordpress" or not (source.events_last_result or source.events_last_error):
        return ""
    if source.events_last_error:
        return plain_error(staff, source.events_last_error)
    if "no events calendar" in (source.events_last_result or ""):
        return words(staff, "The site has no events calendar.")
    parts = [
        words(staff, _COUNT_WORDS[kind], n=count)
        for count, kind in _COUNTS.findall(source.events_last_result or "")
    ]
    return ", ".join(parts) + "." if parts else words(staff, "Nothing new since the read before.")


def _rows(request: Request, staff: Staff, session: Session) -> list[dict[str, object]]:
    zone = settings_of(request).app.timezone
    locale = locale_of(staff)
    rows = []
    for source in sources.list_sources(session):
        failing = source.last_status in ("error", "paused") and bool(source.last_error)
        rows.append(
            {
                "id": source.id,
                "name": source.name or source.url,
                "url": source.url,
                "kind": words(staff, KINDS.get(source.kind, source.kind)),
                "topics": ", ".join(t.name(locale) for t in source.topics) or "—",
                "enabled": source.enabled,
                "every": words(staff, "every %(n)s min", n=source.interval_minutes),
                "polled": when(staff, source.last_polled_at, zone),
                "result": plain_result(staff, source),
                "error": plain_error(staff, source.last_error) if failing else "",
                "detail": source.last_error if failing else "",
                "failures": source.consecutive_failures,
                "events": _events_result(staff, source),
                "rules": [(r.id, r.match, r.topic.name(locale)) for r in source.rules],
            }
        )
    return rows


def _page(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    locale = locale_of(staff)
    general = session.scalars(select(TopicRule).where(TopicRule.source_id.is_(None))).all()
    return render(
        request,
        "admin/sources.html",
        staff=staff,
        title="Sources",
        status_code=400 if errors else 200,
        rows=_rows(request, staff, session),
        general_rules=[(r.id, r.match, r.topic.name(locale)) for r in general],
        kinds=[(k, words(staff, v)) for k, v in KINDS.items()],
        topic_choices=[(t.slug, t.name(locale)) for t in topics.list_topics(session)],
        values=values or {"url": "", "kind": "rss", "name": "", "topics": [], "interval": "15"},
        errors=errors or {},
        can_edit=may_act(staff, Permission.CONTENT),
        notice=notice(request, staff, NOTICES),
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    return _page(request, staff, session)


@router.post("/sources", response_model=None)
def add_source(
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    values: dict[str, object] = {
        "url": text(fields, "url"),
        "kind": text(fields, "kind"),
        "name": text(fields, "name"),
        "topics": texts(fields, "topics"),
        "interval": text(fields, "interval") or "15",
        "rules": text(fields, "rules"),
    }
    errors: dict[str, str] = {}
    if not is_http_url(str(values["url"])):
        errors["url"] = words(staff, "Enter the address of the feed, starting with https://.")
    if values["kind"] not in KINDS:
        errors["kind"] = words(staff, "Choose what kind of source it is.")
    interval = str(values["interval"])
    if not interval.isdigit() or int(interval) < 1:
        errors["interval"] = words(staff, "Enter a number of minutes, 1 or more.")
    rules, bad_rule = _read_rules(str(values["rules"]))
    if bad_rule:
        errors["rules"] = words(
            staff, "Write one rule a line, as: category = topic (%(line)s)", line=bad_rule
        )
    if errors:
        return _page(request, staff, session, values=values, errors=errors)
    try:
        with session.begin_nested():
            source = sources.add_source(
                session,
                url=str(values["url"]),
                kind=str(values["kind"]),
                topic_slugs=list(values["topics"]),  # type: ignore[call-overload]
                interval_minutes=int(interval),
                name=str(values["name"]),
            )
            for match, slug in rules:
                topics.add_rule(session, match=match, topic_slug=slug, source_id=source.id)
    except ContentError as error:
        reason = str(error)
        if "already exists" in reason:
            errors["url"] = words(staff, "This source is already in the list.")
        elif "unknown topic" in reason:
            errors["rules"] = words(staff, "A rule names a topic that does not exist: %(reason)s",
                                    reason=reason)  # fmt: skip
        else:
            errors["url"] = words(staff, "This cannot be saved: %(reason)s", reason=reason)
        return _page(request, staff, session, values=values, errors=errors)
    ring_after_commit(session, "content.poll_source", source.id)
    return back("/admin/sources", "added")


def _read_rules(value: str) -> tuple[list[tuple[str, str]], str]:
    """`Évènements = events` a line; the first line that is not a rule, if any."""
    rules = []
    for line in value.splitlines():
        if not line.strip():
            continue
        match, equals, slug = line.partition("=")
        if not equals or not match.strip() or not slug.strip():
            return [], line.strip()
        rules.append((match.strip(), slug.strip()))
    return rules, ""


def _missing(request: Request, staff: Staff) -> HTMLResponse:
    return message(
        request,
        staff=staff,
        title="Page not found",
        paragraphs=["There is nothing at this address."],
        status_code=404,
        link=("/admin/sources", "Back to the sources"),
    )


@router.post("/sources/{source_id:int}/poll", response_model=None)
def poll_now(
    source_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    try:
        source = sources.get_source(session, source_id)
    except ContentError:
        return _missing(request, staff)
    if not sources.claim_source(session, source.id):
        return back("/admin/sources", "busy")
    ring_after_commit(session, "content.poll_source", source.id)
    return back("/admin/sources", "polling")


@router.post("/sources/{source_id:int}/pause", response_model=None)
def pause(
    source_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    try:
        sources.set_enabled(session, source_id, enabled=False)
    except ContentError:
        return _missing(request, staff)
    return back("/admin/sources", "paused")


@router.post("/sources/{source_id:int}/resume", response_model=None)
def resume(
    source_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    try:
        sources.get_source(session, source_id)
        sources.resume_source(session, source_id)
    except ContentError:
        return _missing(request, staff)
    ring_after_commit(session, "content.poll_source", source_id)
    return back("/admin/sources", "resumed")


@router.get("/sources/{source_id:int}/remove", response_class=HTMLResponse)
def remove_page(
    source_id: int,
    request: Request,
    staff: Staff = page(Permission.CONTENT),
    session: Session = SessionDep,
) -> HTMLResponse:
    try:
        source = sources.get_source(session, source_id)
    except ContentError:
        return _missing(request, staff)
    return render(
        request,
        "admin/confirm.html",
        staff=staff,
        title="Remove this source?",
        paragraphs=[
            f"{source.name or source.url} ({source.url})",
            words(
                staff,
                "It is no longer read. The items it brought stay, with the editions "
                "and posts that carried them; adding it again later brings it back.",
            ),
        ],
        action=f"/admin/sources/{source_id}/remove",
        button=words(staff, "Remove the source"),
        cancel="/admin/sources",
    )


@router.post("/sources/{source_id:int}/remove", response_model=None)
def remove(
    source_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    try:
        sources.remove_source(session, source_id)
    except ContentError:
        return _missing(request, staff)
    return back("/admin/sources", "removed")


@router.post("/sources/rules", response_model=None)
def add_rule(
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
    fields: FormData = PostedDep,
) -> Response:
    match, slug, source = text(fields, "match"), text(fields, "topic"), text(fields, "source")
    errors: dict[str, str] = {}
    if not match:
        errors["match"] = words(staff, "Enter the category or tag as the site names it.")
    if not errors:
        try:
            with session.begin_nested():
                topics.add_rule(
                    session,
                    match=match,
                    topic_slug=slug,
                    source_id=int(source) if source.isdigit() else None,
                )
        except ContentError:
            errors["topic"] = words(staff, "Choose a topic from the list.")
        except IntegrityError:  # the same category twice for one source
            errors["match"] = words(staff, "This category already has a rule.")
    if errors:
        return _page(request, staff, session, errors=errors)
    return back("/admin/sources#rules", "rule-added")


@router.post("/sources/rules/{rule_id:int}/remove", response_model=None)
def remove_rule(
    rule_id: int,
    request: Request,
    staff: Staff = form(Permission.CONTENT),
    session: Session = SessionDep,
) -> Response:
    try:
        topics.remove_rule(session, rule_id)
    except ContentError:
        return _missing(request, staff)
    return back("/admin/sources#rules", "rule-removed")
