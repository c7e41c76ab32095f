"""French typography on what staff and the site wrote, as French emails show it.

`dispatch.i18n.french_spacing` does the spacing; here it reaches HTML (text between tags
only, never inside attributes, ``<code>`` or ``<pre>``) and the fields of an item.
"""

from __future__ import annotations

import re
from dataclasses import replace

from dispatch.editions.views import ItemView
from dispatch.i18n import french_spacing

_TAG = re.compile(r"(<[^>]*>)")
_VERBATIM = re.compile(r"<(/?)(code|pre|script|style)\b", re.IGNORECASE)


def french_html(html: str) -> str:
    """`html` with French spacing in its text; markup, URLs and code left as they are."""
    if not html:
        return html
    pieces = _TAG.split(html)
    depth = 0
    for index, piece in enumerate(pieces):
        if index % 2:  # a tag
            verbatim = _VERBATIM.match(piece)
            if verbatim:
                depth = max(0, depth - 1) if verbatim.group(1) else depth + 1
        elif depth == 0 and piece:
            pieces[index] = french_spacing(piece)
    return "".join(pieces)


def french_item(item: ItemView) -> ItemView:
    """`item` with French spacing in its title, excerpt, summary and the staff's comment."""
    return replace(
        item,
        title=french_spacing(item.title),
        excerpt=french_spacing(item.excerpt),
        summary_html=french_html(item.summary_html),
        comment=french_spacing(item.comment),
        location=french_spacing(item.location),
        section=french_spacing(item.section),
    )
