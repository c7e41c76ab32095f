"""Sanitised HTML (an intro, an item's summary) as the plain-text part of an email reads it.

Paragraphs are kept apart by blank lines and read as one paragraph each, whatever the
source's line wraps (Markdown soft breaks are spaces); ``<br>`` stays a line break. A link
keeps its address, written after its text: ``texte <https://…>``. Lists stay lists, one
``- `` or ``1. `` line per item, indented when nested.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from dispatch.content.sanitise import is_http_url

_BLOCKS = frozenset(
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr",
        "table", "tr", "figure", "figcaption", "section", "article", "header", "footer",
    }
)  # fmt: skip
_LISTS = frozenset({"ul", "ol"})
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_MARKER = re.compile(r"-|\d+\.")


class _Text(HTMLParser):
    def __init__(self, line_break: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_break = line_break
        self.paragraphs: list[str] = []
        self.line: list[str] = []  # pieces of the current line
        self.lines: list[str] = []  # finished lines of the current paragraph
        self.lists: list[list[int]] = []  # one counter per open list; [-1] for <ul>
        self.links: list[tuple[str, int]] = []  # open links: href and where their text starts
        self.verbatim = 0
        self.indent = ""  # a nested list item's indentation
        self.in_list = False  # the current paragraph is a list

    # -- paragraphs and lines ---------------------------------------------------------

    def _end_line(self) -> None:
        text = "".join(self.line)
        if not self.verbatim:
            text = self.indent + _SPACES.sub(" ", text).strip(" ")
        self.indent = ""
        if text.strip():
            self.lines.append(text)
        self.line = []

    def _end_item_line(self) -> None:
        # A paragraph inside a list item (a "loose" Markdown list) stays on the item's line.
        if "".join(self.line).strip() not in ("-", "") and not _MARKER.fullmatch(
            "".join(self.line).strip()
        ):
            self._end_line()

    def _end_paragraph(self) -> None:
        self._end_line()
        if self.lines:
            listed = self.in_list
            self.paragraphs.append(("\n" if listed else self.line_break).join(self.lines))
        self.in_list = False
        self.lines = []

    # -- parser callbacks -------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LISTS:
            if not self.lists:
                self._end_paragraph()
            self.lists.append([0] if tag == "ol" else [-1])
        elif tag == "li":
            self._end_line()
            counter = self.lists[-1] if self.lists else [-1]
            if counter[0] >= 0:
                counter[0] += 1
                marker = f"{counter[0]}. "
            else:
                marker = "- "
            self.in_list = True
            self.indent = "  " * max(0, len(self.lists) - 1)
            self.line.append(marker)
        elif tag in _BLOCKS:
            if self.lists:
                self._end_item_line()
            else:
                self._end_paragraph()
            if tag == "pre":
                self.verbatim += 1
        elif tag == "br":
            self._end_line()
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len("".join(self.line))))
        elif tag == "img":
            alt = dict(attrs).get("alt") or ""
            if alt:
                self.line.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _LISTS:
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self._end_paragraph()
        elif tag == "li":
            self._end_line()
        elif tag in _BLOCKS:
            if self.lists:
                self._end_item_line()
            else:
                self._end_paragraph()
            if tag == "pre":
                self.verbatim = max(0, self.verbatim - 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            self._write_link(href.strip(), "".join(self.line)[start:])

    def _write_link(self, href: str, text: str) -> None:
        shown = _SPACES.sub(" ", text).strip()
        address = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
        if not (is_http_url(href) or href.lower().startswith("mailto:")):
            return
        if shown in (href, address) or shown.rstrip("/") == href.rstrip("/"):
            return  # the text is the address already
        self.line.append(f" <{address}>" if shown else f"<{address}>")

    def handle_data(self, data: str) -> None:
        if self.verbatim:
            for number, part in enumerate(data.split("\n")):
                if number:
                    self._end_line()
                self.line.append(part)
        else:
            self.line.append(data)

    def close(self) -> None:
        super().close()
        self._end_paragraph()


def html_to_text(html: str, *, line_break: str = "\n") -> str:
    """The text of `html`: paragraphs apart by blank lines, links with their addresses.

    A ``<br>`` (or a line of ``<pre>``) ends a line with `line_break`; list items are always
    one per line ("\\n").
    """
    if not html.strip():
        return ""
    parser = _Text(line_break)
    parser.feed(html)
    parser.close()
    return "\n\n".join(parser.paragraphs)
