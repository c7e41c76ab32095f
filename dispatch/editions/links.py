"""Link counts, in aggregate and off by default: signed redirects written at compile time.

With `mail.link_counts` on, every http(s) link of a bulk edition's HTML and text parts is
rewritten, once per compiled variant and never per reader, to
``{base_url}/r/{edition}/{link}/{signature}``. The link id is a hash of the target URL (the
same link has the same id in every language and digest variant); the signature is an HMAC,
with the app's secret key, of the edition, the link id and the target, so that the redirect
(`dispatch.web.redirects`) only ever sends a reader to the target stored for that edition,
never to a URL someone else wrote: it is not an open redirect.

What is stored is one `LinkTarget` row per (edition, link): its URL and a number of clicks.
Nothing about the reader: no subscriber, no address, no IP, no time. Personal slots
(unsubscribe, preferences, confirm links) and ``mailto:`` links are left as they are, and
transactional mail is never rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_lib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.config import Settings
from dispatch.content.sanitise import is_http_url
from dispatch.db import Base
from dispatch.editions.models import Edition
from dispatch.editions.templating import SLOT_HOST
from dispatch.editions.views import TRANSACTIONAL_KINDS

if TYPE_CHECKING:
    from dispatch.editions.compose import CompiledEdition

#: Where the redirect route is mounted (`dispatch.web.redirects`).
ROUTE = "/r/"
_SALT = b"dispatch.editions.links\0"
# lxml (premailer) writes every attribute name in lower case; no IGNORECASE: 40 times faster.
_HREF = re.compile(r"""(href\s*=\s*)(?:"([^"]*)"|'([^']*)')""")
_TEXT_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# What may follow a URL in a sentence without being part of it.
_TRAILING = ".,;:!?)]}»”’'"


class LinkTarget(Base):
    """One link of one edition and how many times it was followed; nothing about who."""

    __tablename__ = "link_targets"

    edition_id: Mapped[int] = mapped_column(
        ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True
    )
    link_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(default=0)


def link_id(url: str) -> str:
    """The id of `url` within an edition: the same in every language and variant."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


def sign(key: str, edition_id: int, link: str, url: str) -> str:
    """The HMAC that binds a redirect to its edition, link id and target."""
    message = _SALT + f"{edition_id}\0{link}\0{url}".encode()
    digest = hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(eq=False)
class LinkPlan:
    """How one edition's links are rewritten, and the targets found while compiling it.

    Once `record` has stored the targets the plan is closed: a variant compiled later (a
    digest's, on first use by the engine) only rewrites links already stored, and leaves any
    other one as it is, so that no reader ever gets a redirect that does not resolve.
    """

    edition_id: int
    base_url: str
    _key: str = field(repr=False)
    targets: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    def redirect(self, url: str) -> str | None:
        """The signed redirect for `url`, or None when it is left as it is."""
        url = url.strip()
        if not is_http_url(url) or url.startswith((SLOT_HOST, self.base_url + ROUTE)):
            return None
        link = link_id(url)
        known = self.targets.get(link)
        if known is None:
            if self.closed:
                return None
            self.targets[link] = url
        elif known != url:  # two targets with one id: keep the second one direct
            return None
        signature = sign(self._key, self.edition_id, link, url)
        return f"{self.base_url}{ROUTE}{self.edition_id}/{link}/{signature}"

    def rewrite_html(self, document: str) -> str:
        def replace(match: re.Match[str]) -> str:
            start = match.start()
            if start and (document[start - 1].isalnum() or document[start - 1] in "-_:"):
                return match.group(0)  # data-href=, xlink:href=…: not a link to follow
            double = match.group(2) is not None
            value = match.group(2) if double else match.group(3)
            target = self.redirect(html_lib.unescape(value))
            if target is None:
                return match.group(0)
            quote = '"' if double else "'"
            return f"{match.group(1)}{quote}{html_lib.escape(target, quote=True)}{quote}"

        return _HREF.sub(replace, document)

    def rewrite_text(self, document: str) -> str:
        def replace(match: re.Match[str]) -> str:
            url = match.group(0)
            tail = ""
            # "…: https://example.org/a." — the full stop ends the sentence, not the URL,
            # unless the URL with it is one the HTML part links to.
            while url and url[-1] in _TRAILING and link_id(url) not in self.targets:
                url, tail = url[:-1], url[-1] + tail
            target = self.redirect(url)
            return (target or url) + tail

        return _TEXT_URL.sub(replace, document)


def plan_for(settings: Settings, edition: Edition) -> LinkPlan | None:
    """The plan for `edition`, or None when its links stay as they are (the default)."""
    base_url = settings.app.base_url.rstrip("/")
    if not settings.mail.link_counts or edition.kind in TRANSACTIONAL_KINDS or not base_url:
        return None
    return LinkPlan(edition_id=edition.id, base_url=base_url, _key=settings.secret_key)


def rewrite(plan: LinkPlan | None, kind: str, html: str, text: str) -> tuple[str, str]:
    """A compiled variant's HTML and text with their links rewritten (compose's one hook).

    The HTML part is rewritten first, so that the text part knows which targets exist.
    """
    if plan is None or kind in TRANSACTIONAL_KINDS:
        return html, text
    return plan.rewrite_html(html), plan.rewrite_text(text)


def record(session: Session, plan: LinkPlan | None, compiled: Iterable[CompiledEdition]) -> None:
    """Store every target `plan` found in `compiled`, then close the plan.

    A digest's variant with every section is compiled here: a reader's own variant holds a
    subset of its links. Existing rows are kept as they are (several processes compile the
    same edition), so this is harmless to repeat.
    """
    if plan is None:
        return
    for edition in compiled:
        if edition.by_topic:
            edition.variant(None)
    plan.closed = True
    if not plan.targets:
        return
    rows = [
        {"edition_id": plan.edition_id, "link_id": link, "url": url, "clicks": 0}
        for link, url in plan.targets.items()
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LinkTarget).values(rows).on_conflict_do_nothing())
    session.flush()


def follow(
    session: Session, settings: Settings, edition_id: int, link: str, signature: str
) -> str | None:
    """Where a redirect goes, counted once; None when it is unknown or its signature is not
    the one made for that very edition, link and target."""
    row = session.get(LinkTarget, (edition_id, link))
    if row is None:
        return None
    expected = (sign(key, edition_id, link, row.url) for key in settings.security.signing_keys())
    if not any(hmac.compare_digest(signature, candidate) for candidate in expected):
        return None
    # One UPDATE in the database: concurrent clicks are all counted.
    session.execute(
        update(LinkTarget)
        .where(LinkTarget.edition_id == edition_id, LinkTarget.link_id == link)
        .values(clicks=LinkTarget.clicks + 1)
        .execution_options(synchronize_session=False)
    )
    return row.url


def link_counts(session: Session, edition_id: int) -> list[tuple[str, int]]:
    """Clicks per link of an edition, most followed first (only counted with
    `mail.link_counts` on; a link nobody followed shows 0)."""
    rows = session.execute(
        select(LinkTarget.url, LinkTarget.clicks)
        .where(LinkTarget.edition_id == edition_id)
        .order_by(LinkTarget.clicks.desc(), LinkTarget.url)
    )
    return [(url, clicks) for url, clicks in rows]
