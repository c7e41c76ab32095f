"""One poll of one source: read what to ask (short transaction), fetch and parse (no
transaction held), then write the items (short transaction). Used by tasks and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.content import ical, ingest, rss, wordpress
from dispatch.content.entries import ParsedEntry, ParseError, ParseResult
from dispatch.content.fetch import FetchError, FetchPolicy, FetchResult, HTTPStatusError, fetch
from dispatch.content.ingest import Harvest
from dispatch.content.models import Source
from dispatch.db import utcnow

log = logging.getLogger(__name__)

Scope = Callable[[], AbstractContextManager[Session]]
WORDPRESS_MAX_PAGES = 5


@dataclass(frozen=True)
class _Request:
    source_id: int
    kind: str
    url: str
    etag: str | None
    last_modified: str | None


def poll_source(source_id: int, *, settings: Settings, scope: Scope) -> ingest.PollReport:
    """Poll one source that the caller has claimed; errors end up on the source, not raised."""
    with scope() as session:
        source = session.get(Source, source_id)
        if source is None or source.kind == "manual":
            return ingest.PollReport(source_id=source_id, status="error", error="no such source")
        request = _Request(source.id, source.kind, source.url, source.etag, source.last_modified)
        # Cleared by whatever this poll writes; still set after the claim expires, it tells
        # the next tick that the poll stopped its process (`ingest.record_stopped_polls`).
        source.poll_started_at = utcnow()
    try:
        fetched = _fetch_and_parse(request, settings)
    except (FetchError, ParseError) as exc:
        log.warning("source %s (%s) failed: %s", request.source_id, request.url, exc)
        with scope() as session:
            return ingest.record_failure(session, source_id, str(exc))
    for guid, reason in fetched.result.skipped:
        log.warning("source %s: skipped entry %s: %s", source_id, guid, reason)
    with scope() as session:
        if fetched.not_modified:
            return ingest.record_not_modified(session, source_id)
        return ingest.apply_entries(session, source_id, fetched)


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
    try:
        events = _get(wordpress.events_url(request.url, start_date=utcnow()), settings)
    except HTTPStatusError as exc:
        if exc.status not in (404, 400):  # the Events Calendar plugin is optional
            raise
    else:
        parsed_events = wordpress.parse_tribe_events(events.body, base_url=request.url)
        entries += parsed_events.entries
        skipped += parsed_events.skipped
    # Posts are listed by modification date over several pages: "vanished" cannot be told
    # from "older than the pages read", so WordPress deletions come from the status field
    # and the webhook rather than from absence.
    return Harvest(
        ParseResult(entries, skipped), first.etag, first.last_modified, detect_vanished=False
    )
