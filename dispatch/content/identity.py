"""Which item a source's entry is: the same post read from several sources of one site.

A site's RSS feed and its WordPress REST API (or its main feed and a category feed) list the
same posts under different guids. An entry is the item its source already maps it to
(`ItemSource`, by source and guid); else, for a post, the post of the same site (host) with
the same WordPress post id or the same canonical link, whichever source saw it first.

The canonical link lowers the scheme and host, drops the default port, the fragment, a
trailing slash and tracking parameters (utm_*, fbclid…), and sorts what is left of the
query. The post id comes from the REST `id`, the feed's `post-id` or shortlink, or a
`?p=123` guid or link (WordPress short links).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from dispatch.content.entries import ParsedEntry
from dispatch.content.models import ContentItem, ItemSource

#: Query parameters that say where a reader came from, never which page it is.
TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "_ga",
        "mkt_tok",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DIGITS = re.compile(r"^\d{1,18}$")


@dataclass(frozen=True)
class Identity:
    """What makes a post the same post across sources: its site, link and post id."""

    site: str | None
    canonical_key: str | None
    wp_post_id: int | None


def site_of(url: str | None) -> str | None:
    """The host (and a port other than the default), lower-cased: a site."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.scheme.lower() not in _DEFAULT_PORTS:
        return None
    if port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        return f"{host}:{port}"
    return host


def canonical_url(url: str | None) -> str | None:
    """`url` as a key: the same page however a feed or an API happens to write it."""
    site = site_of(url)
    if site is None or url is None:
        return None
    parts = urlsplit(url.strip())
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not name.lower().startswith("utm_") and name.lower() not in TRACKING
    )
    return urlunsplit((parts.scheme.lower(), site, path, urlencode(query), ""))


def short_link_id(url: str | None) -> int | None:
    """The post id of a WordPress short link or plain permalink (`https://site/?p=123`)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.path not in ("", "/") and not parts.path.endswith("/index.php"):
        return None
    values = [value for name, value in parse_qsl(parts.query) if name == "p"]
    if len(values) == 1 and _DIGITS.match(values[0]):
        return int(values[0])
    return None


def post_id(value: object) -> int | None:
    """A post id as a feed or an API writes it ("123", 123), or None."""
    text_value = str(value).strip() if value is not None else ""
    return int(text_value) if _DIGITS.match(text_value) and int(text_value) > 0 else None


def identity_of(*, kind: str, url: str | None, guid: str, wp_post_id: int | None) -> Identity:
    """The keys of an item; only posts have them (an event's occurrences share a link)."""
    if kind != "post":
        return Identity(None, None, None)
    site = site_of(url)
    canonical = canonical_url(url)
    key = hashlib.sha256(canonical.encode("utf-8")).hexdigest() if canonical else None
    number = wp_post_id or short_link_id(guid) or short_link_id(url)
    return Identity(site, key, number if site else None)


def entry_identity(entry: ParsedEntry, fallback_url: str) -> Identity:
    return identity_of(
        kind=entry.kind, url=entry.url or fallback_url, guid=entry.guid, wp_post_id=entry.post_id
    )


def find_same_post(session: Session, source_id: int, found: Identity) -> ContentItem | None:
    """The post another source of the same site already brought in: same post id first,
    else same canonical link; the oldest if there are several. An item this source already
    lists under another guid stays apart (a feed's own two entries are two items)."""
    if found.site is None:
        return None
    listed_here = exists().where(
        ItemSource.item_id == ContentItem.id, ItemSource.source_id == source_id
    )
    base = select(ContentItem).where(
        ContentItem.kind == "post", ContentItem.site == found.site, ~listed_here
    )
    if found.wp_post_id is not None:
        item = session.scalar(
            base.where(ContentItem.wp_post_id == found.wp_post_id).order_by(ContentItem.id).limit(1)
        )
        if item is not None:
            return item
    if found.canonical_key is not None:
        return session.scalar(
            base.where(ContentItem.canonical_key == found.canonical_key)
            .order_by(ContentItem.id)
            .limit(1)
        )
    return None


def lock_sites(session: Session, sites: set[str]) -> None:
    """Serialise the writes of polls of one site, so that two sources polled at the same
    moment cannot both create the same post. SQLite has one writer at a time already; on
    PostgreSQL a transaction-scoped advisory lock per site, taken in one order."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for site in sorted(sites):
        number = int.from_bytes(
            hashlib.sha256(b"site:" + site.encode()).digest()[:8], "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})
