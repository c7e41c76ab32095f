"""Post length as each network counts it, and shortening text at a word boundary.

Mastodon counts grapheme clusters with every http(s) URL as 23; Bluesky counts grapheme
clusters (and caps UTF-8 bytes); LinkedIn counts characters (UTF-16 code units, as its
JavaScript front end does).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

MASTODON_URL_LENGTH = 23
ELLIPSIS = "…"

# Close to the URL extraction Mastodon's length validator uses: a scheme, then anything but
# whitespace and angle brackets, minus the punctuation that usually ends a sentence.
_URL_RE = regex.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?)\]»’'\"]*(?:\s|$))", regex.IGNORECASE)
_PLAIN_URL_RE = regex.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?"
    r"(?:/[A-Za-z0-9\-._~/?#=&%+]*[A-Za-z0-9\-_~/#=&%+])?/?",
    regex.IGNORECASE,
)
_GRAPHEME_RE = regex.compile(r"\X")
# Where a line may be cut: ordinary spaces and line breaks. No-break spaces (U+00A0, U+202F,
# U+2007) bind French punctuation and guillemets to their word, so they are not cut points.
_BREAK_RE = regex.compile(r"[ \t\n\r\f\v]+")
# Punctuation left dangling before an ellipsis.
_TRAILING_PUNCT = " \t\n.,;:!?–—-(\u00a0\u202f"


@dataclass(frozen=True)
class Limit:
    """A network's limit on post text, in its own unit."""

    network: str
    maximum: int
    unit: str


LIMITS = {
    "mastodon": Limit("mastodon", 500, "characters (URLs count as 23)"),
    "bluesky": Limit("bluesky", 300, "graphemes"),
    "linkedin": Limit("linkedin", 3000, "characters"),
}
BLUESKY_MAX_BYTES = 3000


def graphemes(text: str) -> int:
    """Number of user-perceived characters (extended grapheme clusters)."""
    return len(_GRAPHEME_RE.findall(text))


def find_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the http(s) URLs in `text`.

    A closing parenthesis that balances one inside the URL belongs to it, as in
    https://fr.wikipedia.org/wiki/Lab_(innovation).
    """
    spans = []
    for m in _URL_RE.finditer(text):
        start, end = m.span()
        while (
            end < len(text)
            and text[end] == ")"
            and (text[start:end].count("(") > text[start:end].count(")"))
        ):
            end += 1
        spans.append((start, end))
    return spans


def mastodon_length(text: str) -> int:
    """Length as Mastodon's validator counts it: graphemes, each URL as 23.

    A plain ASCII URL with a real host name is what Mastodon surely recognises, so it counts
    23. Anything else that looks like a URL counts as the larger of 23 and its own length, so
    that the count never falls short of Mastodon's whichever way Mastodon reads it.
    """

    pieces = []
    pos = 0
    for start, end in find_urls(text):
        url = text[start:end]
        pieces.append(text[pos:start])
        if _PLAIN_URL_RE.fullmatch(url):
            pieces.append("x" * MASTODON_URL_LENGTH)
        else:
            pieces.append("x" * max(MASTODON_URL_LENGTH, graphemes(url)))
        pos = end
    pieces.append(text[pos:])
    return graphemes("".join(pieces))


def bluesky_length(text: str) -> int:
    return graphemes(text)


def linkedin_length(text: str) -> int:
    """UTF-16 code units of the commentary as sent, that is after little-text escaping."""
    return len(escape_little_text(text).encode("utf-16-le")) // 2


def length(network: str, text: str) -> int:
    """Length of `text` as `network` counts it."""
    if network == "mastodon":
        return mastodon_length(text)
    if network == "bluesky":
        return bluesky_length(text)
    if network == "linkedin":
        return linkedin_length(text)
    raise ValueError(f"unknown social network {network!r}")


def fits(network: str, text: str) -> bool:
    limit = LIMITS[network]
    if length(network, text) > limit.maximum:
        return False
    return not (network == "bluesky" and len(text.encode()) > BLUESKY_MAX_BYTES)


def cut_points(text: str) -> list[int]:
    """Offsets where `text` may end without splitting a word (or a URL), shortest first."""
    return [m.start() for m in _BREAK_RE.finditer(text) if m.start() > 0]


def shorten_at(text: str, end: int) -> str:
    """`text[:end]` closed with an ellipsis and any guillemet left open."""
    head = text[:end].rstrip(_TRAILING_PUNCT)
    if not head:
        return ""
    shortened = head + ELLIPSIS
    if head.count("«") > head.count("»"):
        shortened += "\u202f»"
    return shortened


def prefixes(text: str) -> list[str]:
    """Every word-boundary shortening of `text`, shortest first (the full text is not one)."""
    out: list[str] = []
    for end in cut_points(text):
        candidate = shorten_at(text, end)
        if candidate and (not out or out[-1] != candidate):
            out.append(candidate)
    return out


# LinkedIn's "little" text format reserves these in post commentary; unescaped, LinkedIn
# reads them as markup and may silently cut the post at the first one.
_LITTLE_RESERVED = set("\\|{}@[]()<>#*_~")
_HASHTAG_RE = regex.compile(r"(?<![\w#])#(?=\w*[^\W\d_])\w+")


def escape_little_text(text: str) -> str:
    """`text` escaped for LinkedIn commentary: hashtags and URLs stay live, the rest literal."""
    keep: list[tuple[int, int]] = sorted(
        find_urls(text) + [m.span() for m in _HASHTAG_RE.finditer(text)]
    )
    out: list[str] = []
    pos = 0
    for start, end in keep:
        if start < pos:
            continue
        out.append(_escape_plain(text[pos:start]))
        out.append(text[start:end])
        pos = end
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    return "".join("\\" + ch if ch in _LITTLE_RESERVED else ch for ch in text)


def hashtag_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the hashtags in `text`, '#' included."""
    return [m.span() for m in _HASHTAG_RE.finditer(text)]
