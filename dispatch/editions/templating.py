"""The email templates' Jinja environment and filters, and the colour palette they use.

One environment per process (autoescape, StrictUndefined): dates and event times in the
reader's language, links checked, staff HTML cleaned, plain text wrapped. The palette takes
the branding colour and makes every pair of text and background reach WCAG contrast.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import pass_context
from markupsafe import Markup

from dispatch import i18n
from dispatch.content.sanitise import clean_html, is_http_url
from dispatch.editions.plaintext import html_to_text
from dispatch.editions.views import Branding, ItemView

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
#: Per-recipient slots are URLs on this host (see `dispatch.editions.compose`).
SLOT_HOST = "https://dispatch.invalid/"
_TEXT_WIDTH = 72


class CompositionError(Exception):
    """An edition that cannot be composed; the message says why, for staff to read."""


@pass_context
def _date_filter(context: Any, value: date | datetime | None) -> str:
    return "" if value is None else i18n.format_date(value, context["locale"])


@pass_context
def _when_filter(context: Any, item: ItemView) -> str:
    if item.event_start is None:
        return ""
    return i18n.format_event_when(
        item.event_start,
        item.event_end,
        all_day=item.all_day,
        locale=context["locale"],
        timezone=item.event_timezone or None,
    )


@pass_context
def _day_filter(context: Any, item: ItemView) -> str:
    """The event's (first) day with its weekday: « jeudi 3 décembre 2026 »."""
    if item.event_start is None:
        return ""
    if item.all_day:
        return i18n.format_day(item.event_start.date(), context["locale"])
    return i18n.format_day(
        item.event_start, context["locale"], timezone=item.event_timezone or None
    )


def safe_link(url: str | None) -> str:
    """`url` if a reader can safely follow it (http, https, mailto or a slot), else ""."""
    if not url:
        return ""
    url = url.strip()
    if url.startswith(SLOT_HOST) or is_http_url(url) or url.lower().startswith("mailto:"):
        return url
    return ""


def _summary_filter(value: str | None) -> Markup:
    # Defence in depth: summaries arrive sanitised; cleaning again is cheap, once per edition.
    return Markup(clean_html(value or ""))  # noqa: S704 - nh3 allowlist output


def _intro_filter(value: str | None) -> Markup:
    return Markup(clean_html(value or ""))  # noqa: S704 - nh3 allowlist output


_ASCII_SPACES = re.compile(r"[ \t\r\n\f\v]+")


#: How `text` hands a hard line break (``<br>``) to `wrap`: a character staff text cannot
#: hold (see `dispatch.editions.drafts`), so that `wrap` joins every other line break.
_HARD_BREAK = "\u2028"


def _text_filter(value: str | None) -> str:
    return html_to_text(value or "", line_break=_HARD_BREAK)


_LIST_LINE = re.compile(r"( *)(- |\d+\. )")


def _wrap_filter(value: str, width: int = _TEXT_WIDTH, indent: str = "") -> str:
    """Plain text wrapped for a mail client: paragraphs kept, each one paragraph whatever its
    source's line wraps (``<br>`` breaks from `text` kept), list items one per line with a
    hanging indent, long URLs never broken."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", value.strip())]

    def fill(text: str, first: str, rest: str) -> str:
        # Only ASCII whitespace separates words: U+00A0/U+202F keep « mots » and « ? » together.
        return textwrap.fill(
            " ".join(_ASCII_SPACES.split(text.strip())),
            width=width,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )

    def fill_line(line: str) -> str:
        item = _LIST_LINE.match(line)
        if item is None:
            return fill(line, indent, indent)
        lead, marker = item.groups()
        body = line[item.end() :]
        return fill(body, indent + lead + marker, indent + lead + " " * len(marker))

    wrapped = []
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        if _LIST_LINE.match(paragraph):
            lines = [line for line in paragraph.split("\n") if line.strip()]
        else:
            lines = " ".join(paragraph.split("\n")).split(_HARD_BREAK)
        wrapped.append("\n".join(fill_line(line) for line in lines if line.strip()))
    return "\n\n".join(wrapped)


@cache
def email_environment(templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The one Jinja environment for email templates (autoescape, StrictUndefined)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        # HTML-bearing templates escape; subject.txt and body.txt are plain text and must not.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("mjml", "html"),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    environment.filters.update(
        date=_date_filter,
        when=_when_filter,
        day=_day_filter,
        link=safe_link,
        summary=_summary_filter,
        intro=_intro_filter,
        text=_text_filter,
        wrap=_wrap_filter,
    )
    return environment


# --- Colours ---------------------------------------------------------------------------

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def _rgb(colour: str) -> tuple[int, int, int]:
    match = _HEX.fullmatch(colour.strip())
    if not match:
        raise CompositionError(f"colour {colour!r} is not of the form #rrggbb")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio between two ``#rrggbb`` colours (1 to 21)."""
    a, b = sorted((_luminance(_rgb(first)), _luminance(_rgb(second))), reverse=True)
    return (a + 0.05) / (b + 0.05)


def readable_on(background: str, colour: str, *, ratio: float = 4.5) -> str:
    """`colour`, darkened just enough to reach `ratio` against `background` (WCAG AA)."""
    r, g, b = _rgb(colour)
    for step in range(21):
        factor = 1 - step / 20
        candidate = f"#{int(r * factor):02x}{int(g * factor):02x}{int(b * factor):02x}"
        if contrast_ratio(candidate, background) >= ratio:
            return candidate
    return "#000000"


def palette(branding: Branding) -> dict[str, str]:
    background, card = "#f3f4f6", "#ffffff"
    button = readable_on("#ffffff", branding.primary_colour, ratio=3.0)
    button_text = (
        "#ffffff"
        if contrast_ratio(button, "#ffffff") >= contrast_ratio(button, "#000000")
        else "#000000"
    )
    if contrast_ratio(button, button_text) < 4.5:
        button = readable_on(button_text, button)
    return {
        "background": background,
        "card": card,
        "text": readable_on(card, branding.text_colour, ratio=7.0),
        "muted": readable_on(background, "#4b5563"),
        "link": readable_on(card, branding.primary_colour),
        "footer_link": readable_on(background, branding.primary_colour),
        "button": button,
        "button_text": button_text,
        "rule": "#d1d5db",
    }
