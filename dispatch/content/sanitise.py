"""Sanitising what sources send: summary HTML, plain text, excerpts and titles.

Summaries keep a small allowlist of tags (see `ALLOWED_TAGS`). Images are left out on purpose:
an item's picture travels separately as `image_url`, and inline images from third-party hosts
would be fetched by every reader's mail client, which is the tracking we refuse to do.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TypeGuard
from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {"p", "br", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote", "h2", "h3", "h4"}
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}}
LINK_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"

# Their text is never shown to a reader, so it goes with the tag.
_DROPPED_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "svg"}
_BLOCK_TAGS = (
    {"p", "div", "br", "pre", "hr", "blockquote", "section", "article", "header", "footer"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd"}
    | {"table", "tr", "td", "th", "figure", "figcaption"}
)
# Ordinary whitespace only: U+00A0 and U+202F are French typography and stay.
_SPACES = re.compile(r"[ \t\r\n\f\v\u200b]+")
_ELLIPSIS = "…"
_EMPTY_BLOCK = re.compile(r"<(p|li|h2|h3|h4|blockquote|em|strong|b|i)>(?:\s|<br>)*</\1>")
# What WordPress appends to automatic excerpts: " […]", " [&#8230;]", " [...]", at the end.
_WORDPRESS_MORE = re.compile(
    r"(?P<before>.?)(?:\s|&nbsp;|&#160;|&#xa0;)*"
    r"\[\s*(?:…|&#8230;|&#x2026;|&hellip;|\.\.\.)\s*\]"
    r"(?=\s*(?:</p>)?\s*$)",
    re.IGNORECASE | re.DOTALL,
)


def clean_html(html: str, *, base_url: str | None = None) -> str:
    """Sanitised summary HTML: allowlisted tags, http/https/mailto links only.

    Relative links are made absolute against `base_url` (a summary is read far from its
    site); links that cannot be made absolute are dropped, their text kept.
    """

    def keep_link(tag: str, attribute: str, value: str) -> str | None:
        if tag != "a" or attribute != "href":
            return value
        target = value.strip()
        if not target:
            return None
        target = urljoin(base_url, target) if base_url else target
        if urlsplit(target).scheme.lower() not in LINK_SCHEMES:
            return None
        return target

    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=keep_link,
        url_schemes=set(LINK_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    # Dropping images and scripts leaves empty shells behind: "<p></p>" reads as a gap.
    return _EMPTY_BLOCK.sub("", cleaned).strip()


def drop_wordpress_more(html: str) -> str:
    """Replace the "[…]" WordPress appends to automatic excerpts with a plain "…"."""

    def replace(match: re.Match[str]) -> str:
        before = match["before"]
        # "inégalités ? […]" reads better as "inégalités ?" than "inégalités ?…".
        if before and before in ".?!…":
            return before
        return before + _ELLIPSIS

    return _WORDPRESS_MORE.sub(replace, html, count=1)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_WITH_CONTENT:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """The text a reader would see in `html`, entities decoded, whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return collapse_spaces("".join(collector.parts))


def text_paragraphs(html: str) -> str:
    """The text of `html` with its paragraphs (block elements) kept apart by blank lines.

    For plain-text emails: `plain_text` flattens everything into one line, which reads badly
    when an intro has several paragraphs; list items become "- " lines.
    """
    collector = _TextCollector()
    collector.feed(re.sub(r"<li\b[^>]*>", "\n<li>- ", html, flags=re.IGNORECASE))
    collector.close()
    blocks = re.split(r"\n\s*\n|\n", "".join(collector.parts))
    lines = [collapse_spaces(block) for block in blocks]
    paragraphs: list[str] = []
    for line in lines:
        if not line:
            continue
        if line.startswith("- ") and paragraphs and paragraphs[-1].startswith("- "):
            paragraphs[-1] += "\n" + line
        else:
            paragraphs.append(line)
    return "\n\n".join(paragraphs)


def collapse_spaces(text: str) -> str:
    """Collapse runs of ordinary whitespace to one space; non-breaking spaces are kept."""
    return _SPACES.sub(" ", text).strip(" ")


def excerpt(text: str, limit: int = 300) -> str:
    """`text` cut at a word boundary to at most `limit` characters, ending with "…" if cut."""
    text = collapse_spaces(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Only an ordinary space is a break: U+00A0 binds « to its word, ? to its sentence.
    boundary = cut.rfind(" ")
    if boundary > limit // 2:
        cut = cut[:boundary]
    cut = cut.rstrip(" ,;:.-–—([«\u00a0\u202f")
    return cut + _ELLIPSIS


def clean_title(html_or_text: str) -> str:
    """A title as plain text: tags stripped, entities decoded, French typography kept."""
    return plain_text(html_or_text).replace("\n", " ")


def is_http_url(url: str | None) -> TypeGuard[str]:
    """True for an absolute http or https URL with a host."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
