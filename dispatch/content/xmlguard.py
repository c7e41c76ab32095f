"""Hostile XML stops here: a document type declaration is refused by a real XML parser
before feedparser reads a byte of the document.

Feeds never need a DTD, and a DTD is how XML attacks work: internal entities nested deep
enough crash the interpreter's expat (a SIGSEGV, not an exception), external entities read
files or URLs. Looking for ``<!DOCTYPE`` in a prefix is not enough (a comment can hide where
the prolog ends), so the document goes through expat itself, with a handler that stops at
the start of any document type declaration, before a single entity is declared.

The check must see exactly the bytes feedparser's own parser will read. feedparser first
converts a document to UTF-8 by its own rules (HTTP charset, XML declaration, byte order
mark, guesses); `screen_feed` does that conversion once with feedparser's own function,
checks the result and returns it, and the caller hands feedparser those UTF-8 bytes.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import ParseError as XMLSyntaxError

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser
from feedparser.encodings import convert_to_utf8

from dispatch.content.entries import ParseError

#: The content type the screened bytes are handed on with: they are UTF-8 whatever came in.
SCREENED_CONTENT_TYPE = "application/xml; charset=utf-8"
# Any declaration at all, anywhere: what a lenient reader could still act on.
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT)", re.IGNORECASE)
REFUSED = (
    "refused: the document has a document type declaration (<!DOCTYPE …>), which feeds "
    "never need and XML attacks rely on"
)


class _Discard:
    """An ElementTree target that keeps nothing: only the parse itself matters here."""

    def close(self) -> None:
        return None


def screen_feed(data: bytes, *, content_type: str | None = None) -> bytes:
    """`data` as UTF-8, exactly as feedparser will read it, once no DTD was found in it.

    Raises `ParseError` (with a message for staff) when the document declares a DTD, or
    when it is an HTML page rather than a feed.
    """
    headers = {"content-type": content_type or "application/xml"}
    result: dict[str, Any] = {}
    utf8 = convert_to_utf8(headers, data, result)
    if not result.get("encoding"):
        # No encoding fits: feedparser would read the text leniently, declarations included.
        _refuse_any_declaration(utf8.decode("utf-8", "replace"))
        return utf8
    parser = DefusedXMLParser(target=_Discard(), forbid_dtd=True)
    try:
        parser.feed(utf8)
        parser.close()
    except DTDForbidden as refused:
        if (refused.name or "").strip().lower() == "html":
            raise ParseError("not an RSS or Atom feed: the address serves a web page") from None
        raise ParseError(REFUSED) from None
    except DefusedXmlException:  # entities or external references: only after a DTD
        raise ParseError(REFUSED) from None
    except XMLSyntaxError:
        # Not well-formed: expat stopped early and feedparser's lenient parser would read on,
        # so the rest of the text must not hold a declaration either.
        _refuse_any_declaration(utf8.decode("utf-8", "replace"))
    return utf8


def _refuse_any_declaration(text: str) -> None:
    if _DECLARATION.search(text):
        raise ParseError(REFUSED)
