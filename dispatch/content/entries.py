"""What a parsed source entry looks like, before it becomes a content item.

Parsers in `rss`, `wordpress` and `ical` return a `ParseResult`: the entries that parsed and,
for the ones that did not, the reason they were skipped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal

EntryKind = Literal["post", "event", "pick"]
EntryStatus = Literal["published", "unpublished"]
EventStatus = Literal["confirmed", "cancelled"]

KINDS: frozenset[str] = frozenset({"post", "event", "pick"})
STATUSES: frozenset[str] = frozenset({"published", "unpublished"})
EVENT_STATUSES: frozenset[str] = frozenset({"confirmed", "cancelled"})
#: What an event is reminded of and notified about when it changes: its time and its place.
SCHEDULE_FIELDS: tuple[str, ...] = (
    "event_start",
    "event_end",
    "all_day",
    "event_timezone",
    "location",
    "online_url",
)


class ParseError(ValueError):
    """A whole document could not be read (not a feed, refused as hostile, bad JSON...).

    The message is meant for staff: it is stored on the source as its last error.
    """


@dataclass(frozen=True)
class ParsedEntry:
    """One post, event or pick as a source describes it.

    Datetimes are aware and in UTC. For an all-day event, `event_start` and `event_end` are
    midnight UTC of the first and the last day (both inclusive): read them with `.date()`.
    `event_timezone` is the zone the event is set in (its calendar's or venue's), `online_url`
    where to join it online, `registration_url` where to sign up. A cancelled event comes
    back with `event_status` "cancelled" and `status` "unpublished": it leaves every queue
    like an unpublished item, and its readers are told.
    `post_id` is the WordPress post id when the source states it (REST `id`, a feed's
    `post-id` or shortlink): with the link, it tells the same post in two sources of a site.
    `content_hash` is computed from what a reader sees, so an edit changes it and a re-poll of
    the same content does not; `guid`, `post_id`, `excerpt` (derived from the summary) and
    `updated_at` are left out of it.
    """

    guid: str
    kind: EntryKind
    title: str
    url: str | None
    summary_html: str = ""
    excerpt: str = ""
    image_url: str | None = None
    image_alt: str = ""
    author: str | None = None
    categories: tuple[str, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    status: EntryStatus = "published"
    event_start: datetime | None = None
    event_end: datetime | None = None
    all_day: bool = False
    location: str | None = None
    event_timezone: str | None = None
    online_url: str | None = None
    registration_url: str | None = None
    organiser: str | None = None
    cost: str | None = None
    event_status: EventStatus = "confirmed"
    post_id: int | None = None
    content_hash: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if not self.guid:
            raise ValueError("an entry needs a guid")
        if self.kind not in KINDS:
            raise ValueError(f"unknown entry kind {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown entry status {self.status!r}")
        if self.event_status not in EVENT_STATUSES:
            raise ValueError(f"unknown event status {self.event_status!r}")
        for name in ("published_at", "updated_at", "event_start", "event_end"):
            value = getattr(self, name)
            if value is None:
                continue
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be an aware datetime")
            object.__setattr__(self, name, value.astimezone(UTC))
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "content_hash", self._compute_hash())

    def _compute_hash(self) -> str:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        seen = {
            "kind": self.kind,
            "title": self.title,
            "url": self.url,
            "summary_html": self.summary_html,
            "image_url": self.image_url,
            "image_alt": self.image_alt,
            "author": self.author,
            "categories": list(self.categories),
            "published_at": stamp(self.published_at),
            "status": self.status,
            "event_start": stamp(self.event_start),
            "event_end": stamp(self.event_end),
            "all_day": self.all_day,
            "location": self.location,
        }
        # Added only when set, so that the items of sources that have none keep their hash.
        for name in ("event_timezone", "online_url", "registration_url", "organiser", "cost"):
            if getattr(self, name):
                seen[name] = getattr(self, name)
        if self.event_status != "confirmed":
            seen["event_status"] = self.event_status
        canonical = json.dumps(seen, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class ParseResult:
    """The entries of one document, and the ones skipped as `(guid or index, reason)`."""

    entries: list[ParsedEntry] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def day_start(day: date) -> datetime:
    """Midnight UTC of `day`: how an all-day event's first and last days are stored."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def unique(values: list[str]) -> tuple[str, ...]:
    """Non-empty values in first-seen order, without duplicates."""
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return tuple(seen)
