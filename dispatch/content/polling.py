"""One poll of one source: read what to ask (short transaction), fetch and parse (no
transaction held), then write the items (short transaction). Used by tasks and the CLI.

A WordPress source has two listings polled on their own schedules: its posts, and the
events of The Events Calendar when the site has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.content import ical, ingest, rss, sources, wordpress
from dispatch.content.entries import ParsedEntry, ParseError, ParseResult
from dispatch.content.fetch import FetchError, FetchPolicy, FetchResult, HTTPStatusError, fetch
from dispatch.content.ingest import Harvest
from dispatch.content.models import Source
from dispatch.db import utcnow

log = logging.getLogger(__name__)

Scope = Callable[[], AbstractContextManager[Session]]
WORDPRESS_MAX_PAGES = 5
EVENTS_PER_PAGE = 50
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Request:
    source_id: int
    kind: str
    url: str
    etag: str | None
    last_modified: str | None
    main_due: bool = True
    events_due: bool = False
    events_etag: str | None = None
    events_last_modified: str | None = None


@dataclass
class _Fetched:
    """What one listing brought back, or why it did not."""

    harvest: Harvest | None = None
    error: str | None = None
    no_calendar: bool = False


def poll_source(source_id: int, *, settings: Settings, scope: Scope) -> ingest.PollReport:
    """Poll what is due of one source that the caller has claimed; errors end up on the
    source, not raised. A WordPress site's events are fetched on their own schedule, with
    their own conditional GET: a posts listing that answers 304 does not hide them."""
    now = utcnow()
    with scope() as session:
        source = session.get(Source, source_id)
        if source is None or source.kind == "manual":
            return ingest.PollReport(source_id=source_id, status="error", error="no such source")
        request = _Request(
            source.id,
            source.kind,
            source.url,
            source.etag,
            source.last_modified,
            main_due=sources.main_due(source, now) or not sources.events_due(source, now),
            events_due=sources.events_due(source, now),
            events_etag=source.events_etag,
            events_last_modified=source.events_last_modified,
        )
        # Cleared by whatever this poll writes; still set after the claim expires, it tells
        # the next tick that the poll stopped its process (`ingest.record_stopped_polls`).
        source.poll_started_at = utcnow()
    main = _fetch(request, settings) if request.main_due else None
    events = _fetch_events(request, settings) if request.events_due else None
    with scope() as session:
        report = (
            _write(session, source_id, main)
            if main is not None
            else ingest.release(session, source_id)
        )
        if events is not None:
            report.events = _write(session, source_id, events, part="events")
        return report


def _fetch(request: _Request, settings: Settings) -> _Fetched:
    try:
        harvest = _fetch_and_parse(request, settings)
    except (FetchError, ParseError) as exc:
        log.warning("source %s (%s) failed: %s", request.source_id, request.url, exc)
        return _Fetched(error=str(exc))
    for guid, reason in harvest.result.skipped:
        log.warning("source %s: skipped entry %s: %s", request.source_id, guid, reason)
    return _Fetched(harvest)


def _write(
    session: Session, source_id: int, fetched: _Fetched, *, part: ingest.Part = "main"
) -> ingest.PollReport:
    if fetched.no_calendar:
        return ingest.record_no_events_calendar(session, source_id)
    if fetched.harvest is None:
        return ingest.record_failure(session, source_id, fetched.error or "failed", part=part)
    if fetched.harvest.not_modified:
        return ingest.record_not_modified(session, source_id, part=part)
    return ingest.apply_entries(session, source_id, fetched.harvest)


def _get(
    url: str, settings: Settings, *, etag: str | None = None, last_modified: str | None = None
) -> FetchResult:
    # In embedded mode the demo's feeds are served by this app on loopback: only those URLs
    # may reach it; every other loopback or private address stays refused.
    demo_feeds = settings.app.base_url.rstrip("/") + "/demo/feeds/"
    own = settings.app.mode == "embedded" and url.startswith(demo_feeds)
    own_host = urlsplit(settings.app.base_url).hostname if own else None
    policy = FetchPolicy.from_settings(
        settings.content, allowed_hosts=[own_host] if own_host else ()
    )
    return fetch(url, policy=policy, etag=etag, last_modified=last_modified)


def _fetch_and_parse(request: _Request, settings: Settings) -> Harvest:
    if request.kind == "wordpress":
        return _wordpress(request, settings)
    response = _get(request.url, settings, etag=request.etag, last_modified=request.last_modified)
    if response.not_modified:
        return Harvest(ParseResult(), not_modified=True)
    if request.kind == "ical":
        now = utcnow()
        window = (now - timedelta(days=1), now + timedelta(days=settings.content.ical_window_days))
        result = ical.parse_calendar(
            response.body, base_url=response.url, window_start=window[0], window_end=window[1]
        )
        return Harvest(result, response.etag, response.last_modified, covered=window)
    result = rss.parse_feed(
        response.body, base_url=response.url, content_type=response.content_type
    )
    return Harvest(result, response.etag, response.last_modified)


def _wordpress(request: _Request, settings: Settings) -> Harvest:
    """Posts (a few pages, newest edits first) and, when the site has it, its events."""
    entries: list[ParsedEntry] = []
    skipped: list[tuple[str, str]] = []
    first = _get(
        wordpress.posts_url(request.url, page=1),
        settings,
        etag=request.etag,
        last_modified=request.last_modified,
    )
    if first.not_modified:
        return Harvest(ParseResult(), not_modified=True)
    response, page = first, 1
    while True:
        parsed = wordpress.parse_posts(response.body, base_url=request.url)
        entries += parsed.entries
        skipped += parsed.skipped
        listed = len(parsed.entries) + len(parsed.skipped)
        if listed < wordpress.DEFAULT_PER_PAGE or page >= WORDPRESS_MAX_PAGES:
            break
        page += 1
        try:
            response = _get(wordpress.posts_url(request.url, page=page), settings)
        except HTTPStatusError as exc:
            if exc.status == 400:  # WordPress's answer past the last page
                break
            raise
    # Posts are listed by modification date over several pages: "vanished" cannot be told
    # from "older than the pages read", so WordPress deletions come from the status field
    # and the webhook rather than from absence.
    return Harvest(
        ParseResult(entries, skipped), first.etag, first.last_modified, detect_vanished=False
    )


def _fetch_events(request: _Request, settings: Settings) -> _Fetched:
    """The Events Calendar's upcoming events, every page, with their own validators.

    The listing is ordered by start: when every page was read, an upcoming event that is no
    longer listed was taken off the site, and its item is unpublished.
    """
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    entries: list[ParsedEntry] = []
    skipped: list[tuple[str, str]] = []
    try:
        first = _get(
            wordpress.events_url(request.url, start_date=today, per_page=EVENTS_PER_PAGE),
            settings,
            etag=request.events_etag,
            last_modified=request.events_last_modified,
        )
        if first.not_modified:
            return _Fetched(Harvest(ParseResult(), not_modified=True, part="events"))
        response, page = first, 1
        pages = wordpress.tribe_total_pages(first.body)
        while True:
            parsed = wordpress.parse_tribe_events(response.body, base_url=request.url)
            entries += parsed.entries
            skipped += parsed.skipped
            if page >= pages or page >= WORDPRESS_MAX_PAGES:
                break
            page += 1
            response = _get(
                wordpress.events_url(
                    request.url, start_date=today, per_page=EVENTS_PER_PAGE, page=page
                ),
                settings,
            )
    except HTTPStatusError as exc:
        if exc.status in (404, 400):  # the Events Calendar plugin is optional
            return _Fetched(no_calendar=True)
        log.warning("source %s: events failed: %s", request.source_id, exc)
        return _Fetched(error=str(exc))
    except (FetchError, ParseError) as exc:
        log.warning("source %s: events failed: %s", request.source_id, exc)
        return _Fetched(error=str(exc))
    complete = page >= pages
    return _Fetched(
        Harvest(
            ParseResult(entries, skipped),
            first.etag,
            first.last_modified,
            covered=(today, FAR_FUTURE) if complete else None,
            detect_vanished=complete,
            part="events",
        )
    )
