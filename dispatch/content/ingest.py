"""What a poll writes: new and edited items, vanished ones unpublished, the source's result.

A source's entry is unique per `(source, guid)` and maps to one item (`ItemSource`); the same
post in another source of the same site joins the item that source brought in first
(`dispatch.content.identity`). Each source's content hash covers what a reader sees, so an
edit from any of them updates the item and a re-poll of the same content changes nothing;
an item stays published while any of its sources lists it. The first time an
item is seen published its publication event fires (`dispatch.content.publications`); an
event whose time or place changes, or that is cancelled, leaves an `EventChange`
(`dispatch.content.changes`). A failure keeps the items, notes the error where staff see it,
and backs off.

A WordPress source has two listings, each with its own schedule, validators and result: its
posts (the source's main part) and The Events Calendar's events (`part="events"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.content import identity, sightings
from dispatch.content.changes import detect_change, record_change
from dispatch.content.entries import ParsedEntry, ParseResult
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem, ItemSource, Source, Topic, TopicRule
from dispatch.content.publications import fire_publication
from dispatch.content.topics import fold
from dispatch.db import utcnow

MAX_BACKOFF = timedelta(hours=24)
#: Polls in a row that stopped their worker before a source is paused for staff to look at.
CRASHES_BEFORE_PAUSE = 3
STOPPED_WORKER = "the last poll stopped the worker (killed, crashed or over its time limit)"
Part = Literal["main", "events"]


@dataclass
class PollReport:
    """What one poll did, for the CLI, the logs and `Source.last_result`."""

    source_id: int
    status: str = "ok"  # ok | not_modified | error
    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    # Posts another source of the same site had brought in, which this source now lists too.
    merged: list[int] = field(default_factory=list)
    unchanged: int = 0
    unpublished: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    published_events: int = 0
    changed_events: list[int] = field(default_factory=list)
    error: str | None = None
    # The events listing of a WordPress source, when it was polled in the same run.
    events: PollReport | None = None

    def summary(self) -> str:
        text = self._own_summary()
        if self.events is not None:
            text += f"; events: {self.events._own_summary()}"
        return text

    def _own_summary(self) -> str:
        if self.status == "error":
            return f"error: {self.error}"
        if self.status == "not_modified":
            return "not modified"
        if self.status == "skipped":
            return "not due"
        parts = [
            f"{len(self.new)} new",
            f"{len(self.updated)} updated",
            f"{self.unchanged} unchanged",
        ]
        if self.merged:
            parts.append(f"{len(self.merged)} merged")
        if self.unpublished:
            parts.append(f"{len(self.unpublished)} unpublished")
        if self.changed_events:
            parts.append(f"{len(self.changed_events)} changed or cancelled")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "status": self.status,
            "summary": self.summary(),
            "new": self.new,
            "updated": self.updated,
            "merged": self.merged,
            "unchanged": self.unchanged,
            "unpublished": self.unpublished,
            "skipped": [{"entry": e, "reason": r} for e, r in self.skipped],
            "changed_events": self.changed_events,
            "error": self.error,
            "events": self.events.as_dict() if self.events is not None else None,
        }


def record_failure(
    session: Session,
    source_id: int,
    error: str,
    *,
    now: datetime | None = None,
    part: Part = "main",
) -> PollReport:
    """Keep the items, note the error where staff see it, and back off exponentially."""
    now = now or utcnow()
    source = session.get(Source, source_id)
    report = PollReport(source_id=source_id, status="error", error=error)
    if source is None:
        return report
    if part == "events":
        _events_done(
            source, now, report, retry_in=timedelta(minutes=source.events_interval_minutes)
        )
        session.flush()
        return report
    source.consecutive_failures += 1
    delay = min(
        timedelta(minutes=source.interval_minutes) * (2 ** min(source.consecutive_failures, 10)),
        MAX_BACKOFF,
    )
    source.last_polled_at = now
    source.last_status = "error"
    source.last_error = error
    source.last_result = report.summary()
    source.next_poll_at = now + delay
    source.claimed_until = None
    source.poll_started_at = None
    source.crashes = 0
    session.flush()
    return report


def record_stopped_polls(session: Session, *, now: datetime | None = None) -> list[int]:
    """Sources whose poll started and never wrote its result before its claim expired: the
    process running it died. Each is recorded as a failure (and backs off); a source whose
    polls stopped the worker CRASHES_BEFORE_PAUSE times in a row is paused."""
    now = now or utcnow()
    stopped = session.scalars(
        select(Source).where(
            Source.poll_started_at.is_not(None),
            or_(Source.claimed_until.is_(None), Source.claimed_until < now),
        )
    ).all()
    for source in stopped:
        crashes = source.crashes + 1
        record_failure(session, source.id, STOPPED_WORKER, now=now)
        source.crashes = crashes
        if crashes >= CRASHES_BEFORE_PAUSE:
            source.enabled = False
            source.last_status = "paused"
            source.last_error = (
                f"paused after {crashes} polls in a row stopped the worker; "
                f"resume it with: dispatch sources resume {source.id}"
            )
            source.last_result = f"error: {source.last_error}"
    session.flush()
    return [source.id for source in stopped]


def record_not_modified(
    session: Session, source_id: int, *, now: datetime | None = None, part: Part = "main"
) -> PollReport:
    now = now or utcnow()
    source = session.get(Source, source_id)
    report = PollReport(source_id=source_id, status="not_modified")
    if source is not None:
        if part == "events":
            _events_done(source, now, report)
        else:
            _poll_done(source, now, report)
    session.flush()
    return report


def release(session: Session, source_id: int) -> PollReport:
    """Let go of a source whose main listing was not due (only its events were)."""
    source = session.get(Source, source_id)
    if source is not None:
        source.claimed_until = None
        source.poll_started_at = None
        source.crashes = 0
    session.flush()
    return PollReport(source_id=source_id, status="skipped")


def record_no_events_calendar(
    session: Session, source_id: int, *, now: datetime | None = None
) -> PollReport:
    """The site has no The Events Calendar (404): ask again in a day, quietly."""
    now = now or utcnow()
    report = PollReport(source_id=source_id, status="ok")
    source = session.get(Source, source_id)
    if source is not None:
        _events_done(source, now, report, retry_in=MAX_BACKOFF)
        source.events_last_result = "no events calendar on this site"
    session.flush()
    return report


def _poll_done(source: Source, now: datetime, report: PollReport) -> None:
    source.consecutive_failures = 0
    source.last_polled_at = now
    source.last_status = report.status
    source.last_error = None
    source.last_result = report.summary()
    source.next_poll_at = now + timedelta(minutes=source.interval_minutes)
    source.claimed_until = None
    source.poll_started_at = None
    source.crashes = 0


def _events_done(
    source: Source, now: datetime, report: PollReport, *, retry_in: timedelta | None = None
) -> None:
    source.events_last_polled_at = now
    source.events_last_error = report.error
    source.events_last_result = report._own_summary()
    source.events_next_poll_at = now + (
        retry_in or timedelta(minutes=source.events_interval_minutes)
    )
    source.claimed_until = None
    source.poll_started_at = None
    source.crashes = 0


@dataclass
class Harvest:
    """What one fetch brought back: the parsed document, its validators for the next
    conditional GET, and how much of the source it covers.

    `covered` is the span of time the document fully lists (for a calendar, its window);
    without it, the span runs from the oldest listed entry to now. `detect_vanished` is off
    where absence means nothing (WordPress lists by modification date over a few pages).
    `part` says which listing of the source it is (a WordPress site's events are "events":
    their own validators and schedule, and the source's events topic).
    """

    result: ParseResult
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    covered: tuple[datetime, datetime] | None = None
    detect_vanished: bool = True
    part: Part = "main"


def apply_entries(
    session: Session, source_id: int, harvest: Harvest, *, now: datetime | None = None
) -> PollReport:
    """Turn a poll's entries into items: insert new, update edited, unpublish vanished.

    An item of this source inside the covered span that is no longer listed was deleted
    upstream. Nothing is unpublished when an entry was skipped, since the skipped one may be
    the "missing" item.
    """
    entries, skipped = harvest.result.entries, harvest.result.skipped
    now = now or utcnow()
    source = session.get(Source, source_id)
    if source is None:
        raise ContentError(f"no source {source_id}")
    report = PollReport(source_id=source_id, skipped=list(skipped))
    silent = _first_poll(session, source, harvest.part) and not source.announce_existing
    rules = _rules_for(session, source)
    defaults = _default_topics(source, harvest.part)
    identity.lock_sites(
        session,
        {site for e in entries if e.kind == "post" and (site := identity.site_of(e.url))},
    )
    seen: set[str] = set()
    for entry in entries:
        if entry.guid in seen:
            continue
        seen.add(entry.guid)
        item, change = _upsert(session, _Target(source, defaults, rules, now), entry)
        if item is None:
            report.unchanged += 1  # cancelled before anyone saw it: nothing to keep
            continue
        if change == "new":
            report.new.append(item.id)
        elif change == "merged":
            report.merged.append(item.id)
        elif change == "unchanged":
            report.unchanged += 1
        else:
            report.updated.append(item.id)
            if change != "updated":
                report.changed_events.append(item.id)
        if item.status == "published" and fire_publication(session, item.id, silent=silent):
            report.published_events += 1
    if harvest.detect_vanished and entries and not skipped:
        report.unpublished = _unpublish_vanished(
            session, source, seen=seen, entries=entries, covered=harvest.covered, now=now
        )
    if harvest.part == "events":
        if harvest.etag is not None or harvest.last_modified is not None:
            source.events_etag, source.events_last_modified = harvest.etag, harvest.last_modified
        _events_done(source, now, report)
    else:
        if harvest.etag is not None or harvest.last_modified is not None:
            source.etag, source.last_modified = harvest.etag, harvest.last_modified
        _poll_done(source, now, report)
    session.flush()
    return report


def _first_poll(session: Session, source: Source, part: Part) -> bool:
    """Whether this listing brought nothing in yet.

    The first poll that brings entries in, not the first attempt: a first fetch that failed
    must not make the next one announce the whole back-catalogue. A WordPress site's posts
    and events are counted apart, each listing's first poll being silent on its own.
    """
    listed = select(ItemSource.item_id).where(ItemSource.source_id == source.id)
    query = select(ContentItem.id).where(
        or_(ContentItem.source_id == source.id, ContentItem.id.in_(listed))
    )
    if part == "events":
        query = query.where(ContentItem.kind == "event")
    elif source.kind == "wordpress":
        query = query.where(ContentItem.kind != "event")
    return session.scalar(query.limit(1)) is None


def _default_topics(source: Source, part: Part) -> list[Topic]:
    """The topics every item of this listing gets: a site's events get its events topic."""
    if part == "events" and source.events_topic is not None:
        return [source.events_topic]
    return list(source.topics)


def _rules_for(session: Session, source: Source) -> dict[str, Topic]:
    rules = session.scalars(
        select(TopicRule).where(
            or_(TopicRule.source_id.is_(None), TopicRule.source_id == source.id)
        )
    )
    # A source's own rule wins over a global one for the same category.
    ordered = sorted(rules, key=lambda r: r.source_id is not None)
    return {rule.match: rule.topic for rule in ordered}


@dataclass(frozen=True)
class _Target:
    """Where a poll's entries go: the source, its listing's topics and rules, the poll time."""

    source: Source
    defaults: list[Topic]
    rules: dict[str, Topic]
    now: datetime


def _topics_for(defaults: list[Topic], entry: ParsedEntry, rules: dict[str, Topic]) -> list[Topic]:
    topics = {t.id: t for t in defaults}
    for category in entry.categories:
        topic = rules.get(fold(category))
        if topic is not None:
            topics[topic.id] = topic
    return list(topics.values())


_ENTRY_FIELDS = (
    "kind",
    "title",
    "summary_html",
    "excerpt",
    "image_url",
    "author",
    "published_at",
    "updated_at",
    "status",
    "event_start",
    "event_end",
    "all_day",
    "location",
    "event_timezone",
    "online_url",
    "registration_url",
    "organiser",
    "cost",
    "event_status",
)


def _upsert(
    session: Session, target: _Target, entry: ParsedEntry
) -> tuple[ContentItem | None, str]:
    """The item for `entry`, and "new", "merged", "updated", "unchanged", "changed" or
    "cancelled" (an event whose readers must be told); None for an event cancelled before
    it was seen."""
    source, now = target.source, target.now
    topics = _topics_for(target.defaults, entry, target.rules)
    seen = sightings.sighting_of(session, source.id, entry.guid)
    if seen is None:
        if entry.event_status == "cancelled":
            return None, "unchanged"
        keys = identity.entry_identity(entry, source.url)
        same = identity.find_same_post(session, source.id, keys)
        if same is not None:
            return _join(session, target, entry, same, topics), "merged"
        item = _create(session, target, entry, keys, topics)
        if item is not None:
            return item, "new"
        # A concurrent poll of this source inserted it first: fall through to the update.
        seen = sightings.sighting_of(session, source.id, entry.guid)
        if seen is None:
            raise ContentError(f"entry {entry.guid} of source {source.id} vanished while written")
    item = seen.item
    seen.last_seen_at = item.last_seen_at = now
    if seen.content_hash == entry.content_hash:
        if seen.status != entry.status:
            # Listed again after it vanished from this source: published again.
            seen.status = entry.status
            sightings.settle_status(item)
        return item, "unchanged"
    seen.content_hash, seen.status, seen.url = (
        entry.content_hash,
        entry.status,
        _link(entry, source),
    )
    return item, _apply(session, item, entry, source, now, seen=seen, topics=topics)


def _link(entry: ParsedEntry, source: Source) -> str:
    return entry.url or source.url


def _values(entry: ParsedEntry, source: Source) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    values["url"] = _link(entry, source)
    values["image_alt"] = entry.image_alt or None
    values["content_hash"] = entry.content_hash
    return values


def _create(
    session: Session,
    target: _Target,
    entry: ParsedEntry,
    keys: identity.Identity,
    topics: list[Topic],
) -> ContentItem | None:
    """A new item with its first sighting; None if a concurrent poll wrote it first."""
    source, now = target.source, target.now
    item = ContentItem(
        source_id=source.id,
        guid=entry.guid,
        first_seen_at=now,
        last_seen_at=now,
        site=keys.site,
        canonical_key=keys.canonical_key,
        wp_post_id=keys.wp_post_id,
        **_values(entry, source),
    )
    item.topics = topics
    try:
        with session.begin_nested():
            session.add(item)
            sightings.add_sighting(
                session, item, entry, source_id=source.id, url=item.url, topics=topics, now=now
            )
    except IntegrityError:
        return None
    return item


def _join(
    session: Session, target: _Target, entry: ParsedEntry, item: ContentItem, topics: list[Topic]
) -> ContentItem:
    """This source lists a post another source brought in: one more sighting of the item.

    The item keeps what it says unless this source's entry was modified after it (a post
    edited before this source first saw it); either way, no second publication.
    """
    source, now = target.source, target.now
    seen = sightings.add_sighting(
        session, item, entry, source_id=source.id, url=_link(entry, source), topics=topics, now=now
    )
    session.flush()
    item.last_seen_at = now
    if _newer(entry, item):
        _apply(session, item, entry, source, now, seen=seen, topics=topics)
    else:
        sightings.settle_topics(session, item, seen, topics)
        sightings.settle_status(item)
    return item


def _newer(entry: ParsedEntry, item: ContentItem) -> bool:
    said = entry.updated_at or entry.published_at
    known = item.updated_at or item.published_at
    return said is not None and known is not None and said > known


def _apply(
    session: Session,
    item: ContentItem,
    entry: ParsedEntry,
    source: Source,
    now: datetime,
    *,
    seen: ItemSource,
    topics: list[Topic],
) -> str:
    """An edit from one of the item's sources: its values, topics and status, and the
    change an event's readers must hear about."""
    change = detect_change(item, entry)
    for name, value in _values(entry, source).items():
        setattr(item, name, value)
    keys = identity.entry_identity(entry, source.url)
    item.site = keys.site or item.site
    item.canonical_key = keys.canonical_key or item.canonical_key
    item.wp_post_id = keys.wp_post_id or item.wp_post_id
    sightings.settle_topics(session, item, seen, topics)
    sightings.settle_status(item)
    if change is None:
        return "updated"
    kind, before = change
    record_change(session, item, kind, before, now)
    return kind


def _unpublish_vanished(
    session: Session,
    source: Source,
    *,
    seen: set[str],
    entries: Sequence[ParsedEntry],
    covered: tuple[datetime, datetime] | None,
    now: datetime,
) -> list[int]:
    """This source no longer lists these entries; their items are unpublished unless
    another source still lists them."""
    if covered is not None:
        start, end = covered
        in_span = ContentItem.event_start.between(start, end)
    else:
        dates = [e.published_at for e in entries if e.published_at is not None]
        if not dates:
            return []
        in_span = ContentItem.published_at.between(min(dates), now)
    vanished = list(
        session.scalars(
            select(ItemSource)
            .join(ItemSource.item)
            .where(
                ItemSource.source_id == source.id,
                ItemSource.status == "published",
                ItemSource.guid.not_in(seen),
                in_span,
            )
        )
    )
    unpublished = []
    for sighting in vanished:
        sighting.status = "unpublished"
        item = sighting.item
        was = item.status
        if sightings.settle_status(item) == "unpublished" and was == "published":
            item.updated_at = now
            unpublished.append(item.id)
    return unpublished
