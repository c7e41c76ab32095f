"""WordPress REST API: posts (`/wp-json/wp/v2/posts?_embed`) and The Events Calendar events.

Besides the parsers, small helpers build the paged URLs and read the page count headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch.content.entries import (
    EntryKind,
    ParsedEntry,
    ParseError,
    ParseResult,
    day_start,
    unique,
)
from dispatch.content.identity import post_id
from dispatch.content.sanitise import (
    clean_html,
    clean_title,
    drop_wordpress_more,
    excerpt,
    is_http_url,
    plain_text,
)
from dispatch.content.zones import zone_name

EXCERPT_LENGTH = 300
DEFAULT_PER_PAGE = 20
PARIS = "Europe/Paris"
POSTS_ROUTE = "wp/v2/posts"
EVENTS_ROUTE = "tribe/events/v1/events"
# The Events Calendar's "event status" (when the site exposes it): cancelled sessions.
_CANCELLED = frozenset({"canceled", "cancelled"})


class _Skip(Exception):  # noqa: N818 - a control-flow signal, not an error for callers
    """An entry that cannot become an item; the message is the reason."""


def posts_url(
    site_url: str,
    *,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    modified_after: datetime | None = None,
) -> str:
    """The URL of one page of a site's posts, newest edits first, with images and terms."""
    params: dict[str, str] = {
        "_embed": "1",
        "per_page": str(per_page),
        "page": str(page),
        "orderby": "modified",
        "order": "desc",
    }
    if modified_after is not None:
        params["modified_after"] = _wordpress_time(modified_after)
    return _rest_url(site_url, POSTS_ROUTE, params)


def events_url(
    site_url: str,
    *,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    start_date: datetime | None = None,
) -> str:
    """The URL of one page of The Events Calendar's events (upcoming ones by default)."""
    params = {"per_page": str(per_page), "page": str(page)}
    if start_date is not None:
        params["start_date"] = start_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return _rest_url(site_url, EVENTS_ROUTE, params)


def total_pages(headers: Mapping[str, str]) -> int:
    """The page count WordPress announces in `X-WP-TotalPages` (1 when absent or unreadable)."""
    for name, value in headers.items():
        if name.lower() == "x-wp-totalpages":
            try:
                return max(1, int(value.strip()))
            except ValueError:
                return 1
    return 1


def tribe_total_pages(data: bytes) -> int:
    """The page count The Events Calendar announces in its listing (1 when unreadable)."""
    try:
        payload = json.loads(data)
        return max(1, int(payload.get("total_pages") or 1))
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
        return 1


def parse_posts(data: bytes, *, base_url: str, kind: EntryKind = "post") -> ParseResult:
    """The entries of one page of `/wp-json/wp/v2/posts?_embed`."""
    payload = _json(data)
    if not isinstance(payload, list):
        raise ParseError(_not_expected(payload, "a list of posts"))
    result = ParseResult()
    for index, raw in enumerate(payload):
        label = _label(raw, index)
        try:
            if not isinstance(raw, dict):
                raise _Skip("not a post object")
            result.entries.append(_post(raw, base_url=base_url, kind=kind))
        except _Skip as skip:
            result.skipped.append((label, str(skip)))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            result.skipped.append((label, f"unreadable post: {error}"))
    return result


def parse_tribe_events(data: bytes, *, base_url: str) -> ParseResult:
    """The entries of one page of `/wp-json/tribe/events/v1/events`."""
    payload = _json(data)
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise ParseError(_not_expected(payload, "an object with a list of events"))
    result = ParseResult()
    for index, raw in enumerate(events):
        label = _label(raw, index)
        try:
            if not isinstance(raw, dict):
                raise _Skip("not an event object")
            result.entries.append(_event(raw, base_url=base_url))
        except _Skip as skip:
            result.skipped.append((label, str(skip)))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            result.skipped.append((label, f"unreadable event: {error}"))
    return result


def _post(raw: dict[str, Any], *, base_url: str, kind: EntryKind) -> ParsedEntry:
    url = _absolute(raw.get("link"), base_url)
    if url is None:
        raise _Skip("no http(s) link")
    guid = _rendered(raw.get("guid")) or (f"{base_url}?p={raw['id']}" if "id" in raw else url)
    excerpt_field = _mapping(raw.get("excerpt"))
    content_field = _mapping(raw.get("content"))
    protected = bool(excerpt_field.get("protected") or content_field.get("protected"))
    # A password-protected post shows nothing of itself until the password is given.
    summary_source = "" if protected else _rendered(excerpt_field)
    summary_html = clean_html(drop_wordpress_more(summary_source), base_url=url)
    text = plain_text(summary_html)
    title = clean_title(_rendered(raw.get("title")))
    if not title:
        raise _Skip("no title")

    embedded = _mapping(raw.get("_embedded"))
    image_url, image_alt = _featured_media(embedded, base_url=url)
    if image_url is None and is_http_url(raw.get("jetpack_featured_media_url")):
        image_url = raw["jetpack_featured_media_url"]
    return ParsedEntry(
        guid=guid,
        kind=kind,
        title=title,
        url=url,
        summary_html=summary_html,
        excerpt=excerpt(text, EXCERPT_LENGTH),
        image_url=image_url,
        image_alt=image_alt,
        author=_author(embedded),
        categories=_terms(embedded),
        published_at=_gmt(raw.get("date_gmt")),
        updated_at=_gmt(raw.get("modified_gmt")),
        status="published" if raw.get("status", "publish") == "publish" else "unpublished",
        post_id=post_id(raw.get("id")),
    )


def _event(raw: dict[str, Any], *, base_url: str) -> ParsedEntry:
    url = _absolute(raw.get("url"), base_url)
    guid = str(raw.get("global_id") or url or raw.get("id") or "")
    if not guid:
        raise _Skip("no id and no URL")
    title = clean_title(str(raw.get("title") or ""))
    if not title:
        raise _Skip("no title")
    zone = _zone(raw.get("timezone"))
    all_day = bool(raw.get("all_day"))
    start = _event_time(raw, "start", zone)
    if start is None:
        raise _Skip("no readable start date")
    end = _event_time(raw, "end", zone) or start
    if all_day:
        start, end = _local_day(raw, "start", zone, start), _local_day(raw, "end", zone, end)
    if end < start:
        raise _Skip("ends before it starts")

    description = str(raw.get("excerpt") or raw.get("description") or "")
    summary_html = clean_html(drop_wordpress_more(description), base_url=url or base_url)
    text = plain_text(summary_html)
    image = _mapping(raw.get("image"))
    image_url = _absolute(image.get("url"), base_url)
    categories = [
        clean_title(str(term.get("name") or ""))
        for field in ("categories", "tags")
        for term in raw.get(field) or []
        if isinstance(term, dict)
    ]
    website = _absolute(raw.get("website"), base_url)
    online = _absolute(raw.get("virtual_url"), base_url) if raw.get("is_virtual") else None
    cancelled = str(raw.get("event_status") or "").lower() in _CANCELLED
    published = raw.get("status", "publish") == "publish"
    return ParsedEntry(
        guid=guid,
        kind="event",
        title=title,
        url=url,
        summary_html=summary_html,
        excerpt=excerpt(text, EXCERPT_LENGTH),
        image_url=image_url,
        image_alt=clean_title(str(image.get("alt") or "")) if image_url else "",
        author=None,
        categories=unique(categories),
        published_at=_gmt(raw.get("date_utc")),
        updated_at=_gmt(raw.get("modified_utc")),
        status="published" if published and not cancelled else "unpublished",
        event_start=start,
        event_end=end,
        all_day=all_day,
        location=_venue(raw.get("venue")),
        event_timezone=None if all_day else zone.key,
        online_url=online,
        # "Event website" is where sites send readers to sign up; the page itself is `url`.
        registration_url=website if website and website != url else None,
        organiser=_organisers(raw.get("organizer")),
        cost=clean_title(str(raw.get("cost") or "")) or None,
        event_status="cancelled" if cancelled else "confirmed",
    )


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ParseError(f"not JSON: {error}") from None


def _not_expected(payload: Any, expected: str) -> str:
    # WordPress answers errors as {"code": ..., "message": ...}.
    if isinstance(payload, dict) and "code" in payload:
        message = plain_text(str(payload.get("message") or ""))
        return f"WordPress answered an error: {payload['code']} {message}".strip()
    return f"not what the WordPress API sends: expected {expected}"


def _label(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and raw.get("id") is not None:
        return str(raw["id"])
    return f"entry {index + 1}"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rendered(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("rendered") or "")
    return str(value or "")


def _absolute(url: Any, base_url: str) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    absolute = urljoin(base_url, url.strip())
    return absolute if is_http_url(absolute) else None


def _gmt(value: Any) -> datetime | None:
    """WordPress's `*_gmt` and `*_utc` fields: naive UTC, "T" or space separated."""
    if not isinstance(value, str) or not value or value.startswith("0000"):
        return None
    parsed = datetime.fromisoformat(value.replace(" ", "T"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _featured_media(embedded: dict[str, Any], *, base_url: str) -> tuple[str | None, str]:
    for media in embedded.get("wp:featuredmedia") or []:
        # Private media come back as {"code": "rest_forbidden", ...}.
        if isinstance(media, dict) and media.get("source_url"):
            url = _absolute(media["source_url"], base_url)
            if url:
                return url, clean_title(str(media.get("alt_text") or ""))
    return None, ""


def _author(embedded: dict[str, Any]) -> str | None:
    for author in embedded.get("author") or []:
        if isinstance(author, dict) and author.get("name"):
            return clean_title(str(author["name"])) or None
    return None


def _terms(embedded: dict[str, Any]) -> tuple[str, ...]:
    """Category names first, then tag names (WordPress escapes "&" in names)."""
    names: dict[str, list[str]] = {"category": [], "post_tag": []}
    for group in embedded.get("wp:term") or []:
        for term in group if isinstance(group, list) else []:
            if isinstance(term, dict) and term.get("taxonomy") in names:
                names[term["taxonomy"]].append(clean_title(str(term.get("name") or "")))
    return unique(names["category"] + names["post_tag"])


def _zone(name: Any) -> ZoneInfo:
    # Tribe also writes offsets like "UTC+2", which name no zone; the UTC fields come first.
    known = zone_name(str(name)) if name else None
    try:
        return ZoneInfo(known or PARIS)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(PARIS)


def _organisers(value: Any) -> str | None:
    names = (
        [
            clean_title(str(organiser.get("organizer") or ""))
            for organiser in value
            if isinstance(organiser, dict)
        ]
        if isinstance(value, list)
        else []
    )
    return ", ".join(unique(names)) or None


def _event_time(raw: dict[str, Any], which: str, zone: ZoneInfo) -> datetime | None:
    utc = raw.get(f"utc_{which}_date")
    if utc:
        return _gmt(utc)
    local = raw.get(f"{which}_date")
    if not isinstance(local, str) or not local:
        return None
    return datetime.fromisoformat(local.replace(" ", "T")).replace(tzinfo=zone)


def _local_day(raw: dict[str, Any], which: str, zone: ZoneInfo, fallback: datetime) -> datetime:
    local = raw.get(f"{which}_date")
    if isinstance(local, str) and local:
        return day_start(datetime.fromisoformat(local.replace(" ", "T")).date())
    return day_start(fallback.astimezone(zone).date())


def _venue(venue: Any) -> str | None:
    if not isinstance(venue, dict):
        return None
    parts = [clean_title(str(venue.get(key) or "")) for key in ("venue", "address", "zip", "city")]
    # "75019 Paris" reads as one part.
    name, address, postcode, city = parts
    town = " ".join(part for part in (postcode, city) if part)
    text = ", ".join(unique([name, address, town]))
    return text or None


def _rest_url(site_url: str, route: str, params: dict[str, str]) -> str:
    parts = urlsplit(site_url)
    root = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/wp-json/{route}"
    return f"{root}?{urlencode(params)}"


def _wordpress_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("modified_after must be an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
