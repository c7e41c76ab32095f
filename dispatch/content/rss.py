"""RSS 2.0 and Atom feeds, WordPress's included, parsed from bytes dispatch fetched itself."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser

from dispatch.content.entries import EntryKind, ParsedEntry, ParseError, ParseResult, unique
from dispatch.content.identity import post_id, short_link_id
from dispatch.content.sanitise import (
    clean_html,
    clean_title,
    drop_wordpress_more,
    excerpt,
    is_http_url,
    plain_text,
)
from dispatch.content.xmlguard import SCREENED_CONTENT_TYPE, screen_feed

EXCERPT_LENGTH = 300
TITLE_FALLBACK_LENGTH = 90


def parse_feed(
    data: bytes,
    *,
    base_url: str,
    content_type: str | None = None,
    kind: EntryKind = "post",
) -> ParseResult:
    """The entries of an RSS or Atom document; raises `ParseError` if it is not one.

    `base_url` is where the feed was fetched from (relative links resolve against it);
    `content_type` is the HTTP header, when known, for its charset.
    """
    # feedparser reads only what the guard has read: UTF-8 bytes without a DTD.
    screened = screen_feed(data, content_type=content_type)
    headers = {"content-location": base_url, "content-type": SCREENED_CONTENT_TYPE}
    # Links are made absolute by `clean_html`, after decoding: feedparser would join
    # "javascript&#58;..." as if it were a relative path.
    parsed = feedparser.parse(
        screened, response_headers=headers, sanitize_html=True, resolve_relative_uris=False
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({problem})" if problem else ""
        raise ParseError(f"not an RSS or Atom feed{detail}")
    result = ParseResult()
    for index, raw in enumerate(parsed.entries):
        label = str(raw.get("id") or raw.get("link") or f"entry {index + 1}")
        try:
            result.entries.append(_entry(raw, base_url=base_url, kind=kind))
        except _Skip as skip:
            result.skipped.append((label, str(skip)))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            result.skipped.append((label, f"unreadable entry: {error}"))
    return result


class _Skip(Exception):  # noqa: N818 - a control-flow signal, not an error for callers
    """An entry that cannot become an item; the message is the reason."""


def _entry(raw: Any, *, base_url: str, kind: EntryKind) -> ParsedEntry:
    link = raw.get("link")
    url = urljoin(base_url, link.strip()) if link else None
    if not is_http_url(url):
        raise _Skip("no http(s) link" if not link else f"link is not an http(s) URL: {link}")
    guid = str(raw.get("id") or url).strip()

    content_html = _first_content(raw)
    summary_source = raw.get("summary") or content_html
    summary_html = clean_html(drop_wordpress_more(summary_source), base_url=url)
    text = plain_text(summary_html)

    title = clean_title(raw.get("title") or "")
    if not title:
        title = excerpt(text, TITLE_FALLBACK_LENGTH)
    if not title:
        raise _Skip("no title and no summary")

    image_url, image_alt = _image(raw, content_html, base_url=url)
    # dict.get: feedparser's own get() maps a missing "updated" to "published", with a warning.
    updated = _timestamp(dict.get(raw, "updated_parsed"))
    published = _timestamp(dict.get(raw, "published_parsed")) or updated
    author = clean_title(raw.get("author") or "") or None
    categories = unique([clean_title(tag.get("term") or "") for tag in raw.get("tags", [])])
    return ParsedEntry(
        guid=guid,
        kind=kind,
        title=title,
        url=url,
        summary_html=summary_html,
        excerpt=excerpt(text, EXCERPT_LENGTH),
        image_url=image_url,
        image_alt=image_alt,
        author=author,
        categories=categories,
        published_at=published,
        updated_at=updated,
        status="published",
        post_id=_post_id(raw),
    )


def _post_id(raw: Any) -> int | None:
    """The WordPress post id a feed states: WordPress.com's `<post-id>`, or a shortlink."""
    stated = post_id(raw.get("post-id"))
    if stated is not None:
        return stated
    for link in raw.get("links", []):
        if link.get("rel") == "shortlink":
            found = short_link_id(link.get("href"))
            if found is not None:
                return found
    return None


def _first_content(raw: Any) -> str:
    for content in raw.get("content", []):
        if content.get("value") and "html" in (content.get("type") or "html"):
            return str(content["value"])
    return ""


def _timestamp(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    # feedparser hands back UTC as a struct_time.
    return datetime(*value[:6], tzinfo=UTC)


def _image(raw: Any, content_html: str, *, base_url: str) -> tuple[str | None, str]:
    """The featured image: media:content, media:thumbnail, an image enclosure, a first <img>."""
    first_img = _FirstImage.find(content_html)
    candidates: list[tuple[str | None, str]] = []
    for media in raw.get("media_content", []):
        if media.get("medium", "image") == "image" or str(media.get("type", "")).startswith(
            "image/"
        ):
            candidates.append((media.get("url"), ""))
    candidates += [(thumb.get("url"), "") for thumb in raw.get("media_thumbnail", [])]
    candidates += [
        (link.get("href"), "")
        for link in raw.get("links", [])
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    if first_img:
        candidates.append(first_img)
    for url, alt in candidates:
        if not url:
            continue
        absolute = urljoin(base_url, url.strip())
        if is_http_url(absolute):
            if not alt and first_img and _same_picture(absolute, first_img[0], base_url):
                alt = first_img[1]
            return absolute, clean_title(alt)
    return None, ""


def _same_picture(url: str, img_src: str | None, base_url: str) -> bool:
    """WordPress's resized copies differ only by a -1024x683 suffix."""
    if not img_src:
        return False

    def stem(value: str) -> str:
        return re.sub(r"-\d+x\d+(?=\.\w+$)", "", urljoin(base_url, value).split("?")[0])

    return stem(url) == stem(img_src)


class _FirstImage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: tuple[str, str] | None = None

    @classmethod
    def find(cls, html: str) -> tuple[str, str] | None:
        if not html:
            return None
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser.found

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and self.found is None:
            values = dict(attrs)
            if values.get("src"):
                self.found = (values["src"] or "", values.get("alt") or "")
