"""Social posts written for each network from one piece of content.

`render(network, content)` fills `templates/social/<network>.<kind>.txt.j2`, then fits the
text to the network's limit (shortening the excerpt, then dropping hashtags, then shortening
the title, always at a word boundary) and adds what the network needs beside the text:
Bluesky's facets and link card, an image with its alt text, the language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import regex
from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from dispatch.i18n import format_event_when, french_spacing
from dispatch.social import counting

Kind = Literal["post", "event", "pick", "edition"]
Network = Literal["mastodon", "bluesky", "linkedin"]
Embed = Literal["card", "image"]
NETWORKS: tuple[Network, ...] = ("mastodon", "bluesky", "linkedin")
KINDS: tuple[Kind, ...] = ("post", "event", "pick", "edition")

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "social"
BLUESKY_LINK_TEXT = 32  # characters of a link shown in a Bluesky post; the facet holds the rest


class RenderError(ValueError):
    """The content cannot be made into a post for this network; the message says why."""


@dataclass(frozen=True)
class SocialContent:
    """What a post is about, independent of any network."""

    kind: Kind
    title: str
    url: str
    excerpt: str = ""
    image_url: str = ""
    image_alt: str = ""
    image_path: Path | None = None
    # Returns the image's bytes; the caller decides how an image is fetched (and from where).
    image_loader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    topics: tuple[str, ...] = ()
    # Topic slug -> hashtag, e.g. {"onaime": "#onaime"}; missing slugs get a derived hashtag.
    hashtags: Mapping[str, str] = field(default_factory=dict)
    language: Literal["fr", "en"] = "fr"
    event_start: datetime | None = None
    # As items keep them: an all-day event's start and end are midnight UTC of its first and
    # last days (show days, never a time); naive times are in `timezone`.
    event_end: datetime | None = None
    all_day: bool = False
    event_timezone: str = ""
    event_location: str = ""
    timezone: str = "Europe/Paris"
    pick_comment: str = ""
    pick_tag: str = ""
    site_name: str = ""

    def image(self) -> PostImage | None:
        if not (self.image_path or self.image_loader or self.image_url):
            return None
        return PostImage(
            alt=self.image_alt, url=self.image_url, path=self.image_path, loader=self.image_loader
        )


@dataclass(frozen=True)
class PostImage:
    """An image to attach, with its alt text; bytes are read only when publishing."""

    alt: str
    url: str = ""
    path: Path | None = None
    loader: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    def read(self) -> bytes | None:
        if self.loader is not None:
            return self.loader()
        if self.path is not None:
            return self.path.read_bytes()
        return None


@dataclass(frozen=True)
class Facet:
    """A Bluesky rich-text facet: a link or a hashtag over UTF-8 byte offsets of the text."""

    byte_start: int
    byte_end: int
    kind: Literal["link", "tag"]
    value: str  # the URI of a link, the tag without '#'

    def to_record(self) -> dict[str, Any]:
        feature: dict[str, Any]
        if self.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": self.value}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": self.value}
        return {
            "index": {"byteStart": self.byte_start, "byteEnd": self.byte_end},
            "features": [feature],
        }


@dataclass(frozen=True)
class LinkCard:
    """A link preview: Bluesky's external embed, LinkedIn's article content."""

    url: str
    title: str
    description: str
    thumb: PostImage | None = None


@dataclass(frozen=True)
class RenderedPost:
    """A post ready for one network: the text as shown, and what goes with it."""

    network: Network
    text: str
    language: str
    link: str | None
    facets: tuple[Facet, ...] = ()
    card: LinkCard | None = None
    image: PostImage | None = None
    length: int = 0
    limit: int = 0
    # When the post was prepared: Bluesky's createdAt and the clock of its record key, so a
    # retried publish writes the very same record. Pass the post row's creation time.
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description of the post (what the outbox writes)."""

        def image(img: PostImage | None) -> dict[str, Any] | None:
            if img is None:
                return None
            return {"alt": img.alt, "url": img.url, "path": str(img.path) if img.path else None}

        return {
            "network": self.network,
            "text": self.text,
            "language": self.language,
            "link": self.link,
            "length": self.length,
            "limit": self.limit,
            "facets": [f.to_record() for f in self.facets],
            "card": None
            if self.card is None
            else {
                "url": self.card.url,
                "title": self.card.title,
                "description": self.card.description,
                "thumb": image(self.card.thumb),
            },
            "image": image(self.image),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def render(
    network: str,
    content: SocialContent,
    *,
    embed: Embed = "card",
    created_at: datetime | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> RenderedPost:
    """The post for `network`, within its limit as that network counts.

    `embed` chooses, where a network allows only one, between a link card (with the image as
    its thumbnail) and the image itself with its alt text.
    """
    net = _network(network)
    if content.kind not in KINDS:
        raise RenderError(f"unknown content kind {content.kind!r}")
    template = _environment(template_dir).get_template(f"{net}.{content.kind}.txt.j2")
    context = _context(net, content)
    text = _fit(net, template, context)
    return _finish(net, text, content, embed, created_at)


def from_text(
    network: str,
    text: str,
    content: SocialContent,
    *,
    embed: Embed = "card",
    created_at: datetime | None = None,
) -> RenderedPost:
    """A post from text staff wrote or edited; refused (not cut) if it is too long."""
    net = _network(network)
    text = _typeset(content, _tidy(text))
    if not text:
        raise RenderError("the post text is empty")
    if not counting.fits(net, text):
        limit = counting.LIMITS[net]
        raise RenderError(
            f"the text is {counting.length(net, text)} {limit.unit} long; "
            f"{net} allows {limit.maximum}"
        )
    return _finish(net, text, content, embed, created_at)


def hashtag_for(slug: str, mapping: Mapping[str, str] | None = None) -> str:
    """The hashtag for a topic slug: the configured one, else derived (mustread -> #mustread,
    politiques-publiques -> #PolitiquesPubliques)."""
    if mapping and slug in mapping:
        tag = mapping[slug].strip()
        return tag if tag.startswith("#") else "#" + tag
    parts = [p for p in regex.split(r"[^\w]+|_", slug) if p]
    # Several words are joined in CamelCase, which screen readers can read out.
    word = "".join(p[:1].upper() + p[1:] for p in parts) if len(parts) > 1 else "".join(parts)
    return "#" + word if word and not word.isdigit() else ""


def hashtags(content: SocialContent, *, exclude: Iterable[str] = ()) -> list[str]:
    skip = {t.lower() for t in exclude}
    out: list[str] = []
    for slug in content.topics:
        tag = hashtag_for(slug, content.hashtags)
        if tag and tag.lower() not in skip and tag not in out:
            out.append(tag)
    return out


def link_text(url: str, *, width: int = BLUESKY_LINK_TEXT) -> str:
    """A link as shown in a post: no scheme or www, cut with an ellipsis if long."""
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    rest = url.split(parts.netloc, 1)[1] if parts.netloc else url
    shown = (host + rest).rstrip("/")
    if len(shown) > width:
        shown = shown[: width - 1] + counting.ELLIPSIS
    return shown


# -- internals -----------------------------------------------------------------------------


def _network(network: str) -> Network:
    for net in NETWORKS:
        if net == network:
            return net
    raise RenderError(f"unknown social network {network!r}")


@cache
def _environment(template_dir: Path) -> SandboxedEnvironment:
    # Plain text for APIs that escape it themselves: no HTML autoescaping here.
    return SandboxedEnvironment(
        loader=FileSystemLoader(template_dir),
        undefined=StrictUndefined,
        autoescape=False,  # the output is plain text for APIs, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _typeset(content: SocialContent, text: str) -> str:
    """French text with French spacing (« … », before ; ! ? :); other languages untouched.

    Only spaces already typed before a sign become no-break ones, so links stay intact."""
    return french_spacing(text) if content.language == "fr" else text


def _context(network: Network, content: SocialContent) -> dict[str, Any]:
    pick_tag = hashtag_for(content.pick_tag, content.hashtags) if content.pick_tag else ""
    return {
        "kind": content.kind,
        "lang": content.language,
        "title": _typeset(content, _one_line(content.title)),
        "url": content.url,
        "link_text": link_text(content.url) if content.url else "",
        "excerpt": _typeset(content, _one_paragraph(content.excerpt)),
        "comment": _typeset(content, _one_paragraph(content.pick_comment)),
        "pick_tag": pick_tag,
        "hashtags": hashtags(content, exclude=[pick_tag] if pick_tag else []),
        "event_when": _event_when(content),
        "event_location": _typeset(content, _one_line(content.event_location)),
        "site_name": content.site_name,
        "nbsp": "\u00a0",
        "nnbsp": "\u202f",
    }


def _event_when(content: SocialContent) -> str:
    """The event's whole span, as emails say it: « du 18 au 19 mars 2027 »."""
    if content.event_start is None:
        return ""
    zone = ZoneInfo(content.timezone)

    def aware(value: datetime) -> datetime:
        return value.replace(tzinfo=zone) if value.tzinfo is None else value

    if content.all_day:
        first = content.event_start.date()
        last = (content.event_end or content.event_start).date()
        return format_event_when(
            first, max(first, last) + timedelta(days=1), all_day=True, locale=content.language
        )
    return format_event_when(
        aware(content.event_start),
        aware(content.event_end) if content.event_end else None,
        all_day=False,
        locale=content.language,
        timezone=content.event_timezone or content.timezone,
    )


def _fit(network: Network, template: Template, context: dict[str, Any]) -> str:
    text = _render(template, context)
    if counting.fits(network, text):
        return text
    # What gives way first: the excerpt and comment, then hashtags, then place, then title.
    for name in ("excerpt", "comment"):
        context, text = _shorten_field(network, template, context, name)
        if counting.fits(network, text):
            return text
    while context["hashtags"]:
        context = {**context, "hashtags": context["hashtags"][:-1]}
        text = _render(template, context)
        if counting.fits(network, text):
            return text
    for name in ("event_location", "title"):
        context, text = _shorten_field(network, template, context, name)
        if counting.fits(network, text):
            return text
    limit = counting.LIMITS[network]
    raise RenderError(
        f"cannot fit this content into {limit.maximum} {limit.unit} for {network}, "
        "even with only the link left"
    )


def _shorten_field(
    network: Network, template: Template, context: dict[str, Any], name: str
) -> tuple[dict[str, Any], str]:
    """The longest word-boundary shortening of one field that fits (or the field removed)."""
    candidates = ["", *counting.prefixes(context[name])]
    lo, hi = 0, len(candidates) - 1
    best = 0
    while lo <= hi:  # the candidates grow with their index, so a binary search finds the longest
        mid = (lo + hi) // 2
        if counting.fits(network, _render(template, {**context, name: candidates[mid]})):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    context = {**context, name: candidates[best]}
    return context, _render(template, context)


def _render(template: Template, context: Mapping[str, Any]) -> str:
    return _tidy(template.render(**context))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return regex.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _one_line(text: str) -> str:
    return regex.sub(r"[ \t\r\n]+", " ", text).strip()


def _one_paragraph(text: str) -> str:
    paragraphs = [_one_line(p) for p in regex.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p)


def _finish(
    network: Network,
    text: str,
    content: SocialContent,
    embed: Embed,
    created_at: datetime | None,
) -> RenderedPost:
    image = content.image()
    link = content.url or None
    card = None
    attached = None
    if link and (network == "linkedin" or (network == "bluesky" and embed == "card")):
        card = LinkCard(
            url=link,
            title=_typeset(content, content.title),
            description=_typeset(content, _one_line(content.excerpt or content.pick_comment)),
            thumb=image,
        )
    # An image is attached only with alt text: an image nobody can describe is left out.
    if image is not None and image.alt.strip() and (network == "mastodon" or card is None):
        attached = image
    facets = _facets(text, content.url) if network == "bluesky" else ()
    limit = counting.LIMITS[network]
    return RenderedPost(
        network=network,
        text=text,
        language=content.language,
        link=link,
        facets=facets,
        card=card,
        image=attached,
        length=counting.length(network, text),
        limit=limit.maximum,
        created_at=created_at,
    )


def _facets(text: str, url: str) -> tuple[Facet, ...]:
    spans: list[tuple[int, int, Literal["link", "tag"], str]] = []
    if url:
        shown = link_text(url)
        at = text.rfind(shown)
        if at >= 0:
            spans.append((at, at + len(shown), "link", url))
    for start, end in counting.find_urls(text):
        spans.append((start, end, "link", text[start:end]))
    for start, end in counting.hashtag_spans(text):
        if counting.graphemes(text[start + 1 : end]) <= 64:  # the lexicon's limit on a tag
            spans.append((start, end, "tag", text[start + 1 : end]))
    spans.sort()
    facets: list[Facet] = []
    taken_until = -1
    for start, end, kind, value in spans:
        if start < taken_until:
            continue  # overlapping: a URL already covers this
        facets.append(Facet(_bytes(text, start), _bytes(text, end), kind, value))
        taken_until = end
    return tuple(facets)


def _bytes(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))
