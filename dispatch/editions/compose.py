"""Compiling an edition's email once, then personalising it cheaply for each reader.

Pipeline, once per edition (and per topic set for digests):

    Jinja renders templates/email/<name>/body.mjml  →  mjml-python compiles it to HTML
    →  premailer inlines the CSS  →  the HTML is split around per-recipient slots.

The plain-text part (``body.txt``) and the subject (``subject.txt``) are rendered from the
same context. Per recipient, `personalise` only looks up the slot values (greeting, address,
signed links) and pairs them with the static chunks: no template runs.

Slots are written into templates as URL-shaped tokens, ``https://dispatch.invalid/<nonce>/
<name>``: they are valid URLs in ``href`` and plain words in text, contain nothing HTML,
MJML, CSS or premailer rewrites, and carry a per-compilation nonce so that content
containing a similar string cannot be mistaken for a slot. `compile_edition` checks that
every token written by the templates is still there after premailer.

Digests (and alerts that name their topics) show only the items of the topics a reader
follows, and every edition leaves out the items a reader already received elsewhere
(`RecipientView.left_out`, from the receipt ledger). A variant is compiled per distinct
(topic set, items left out), lazily, the first time a reader with that pair comes up, and
cached on the `CompiledEdition` (thread-safe); in a digest each item shows once, under the
first of its topics (in the edition's topic order) that the reader follows. A variant has
its own subject (an alert is titled by its one item). Memory grows with the number of
distinct pairs, never with the number of readers.

Staff-written text (subject, intro) is data to the templates: Jinja never evaluates a
value, so ``{{ 7*7 }}`` in a title reaches the email as those very characters.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html
from premailer import Premailer

from dispatch import i18n
from dispatch.editions import ics, links
from dispatch.editions.templating import (
    SLOT_HOST,
    TEMPLATES_DIR,
    CompositionError,
    email_environment,
    palette,
    safe_link,
)
from dispatch.editions.views import (
    EDITION_KINDS,
    PICK_TAGS,
    TRANSACTIONAL_KINDS,
    Branding,
    EditionView,
    ItemView,
    RecipientView,
)

#: Every slot a template may use, through the `recipient` object in its context.
SLOT_NAMES: tuple[str, ...] = (
    "greeting",
    "name",
    "email",
    "unsubscribe_url",
    "preferences_url",
    "confirm_url",
)
#: A variant's key: the reader's topic set (None: every topic) and the items left out.
VariantKey = tuple[frozenset[str] | None, frozenset[int]]
_URL_SLOTS = frozenset({"unsubscribe_url", "preferences_url", "confirm_url"})
_DOCTYPE = "<!doctype html>"

logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with every copy of an edition (e.g. the event's ``.ics``)."""

    filename: str
    content_type: str  # full MIME type with parameters, e.g. "text/calendar; method=PUBLISH"
    data: bytes


@dataclass(frozen=True, slots=True)
class SplitText:
    """A document cut around its slots: ``static[0] slot[0] static[1] … static[-1]``."""

    static: tuple[str, ...]
    slots: tuple[str, ...]

    def join(self, values: Mapping[str, str]) -> str:
        pieces = [self.static[0]]
        for slot, chunk in zip(self.slots, self.static[1:], strict=True):
            pieces.append(values[slot])
            pieces.append(chunk)
        return "".join(pieces)


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    """One compiled version of an edition: the HTML and text parts, cut around slots."""

    html: SplitText
    text: SplitText
    item_count: int
    subject: str = ""
    # The content items this variant shows: what a reader's receipts record once it is sent.
    item_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One reader's email, before MIME: what `dispatch.delivery.mime` turns into bytes.

    The parts are kept as the variant's shared static chunks plus this reader's values
    (``html_values[i]`` goes between ``html_static[i]`` and ``html_static[i + 1]``), so
    that the MIME layer can encode the static chunks once per edition. `html` and `text`
    give the joined documents (previews, tests).
    """

    kind: str
    locale: str
    subject: str
    to_email: str
    to_name: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    html_static: tuple[str, ...]
    html_values: tuple[str, ...]
    text_static: tuple[str, ...]
    text_values: tuple[str, ...]
    attachments: tuple[Attachment, ...] = ()
    edition_key: str = ""
    item_ids: tuple[int, ...] = ()

    @property
    def bulk(self) -> bool:
        """True for list mail (List-Unsubscribe, one-click), False for transactional mail."""
        return self.kind not in TRANSACTIONAL_KINDS

    @property
    def html(self) -> str:
        return _interleave(self.html_static, self.html_values)

    @property
    def text(self) -> str:
        return _interleave(self.text_static, self.text_values)


def _interleave(static: tuple[str, ...], values: tuple[str, ...]) -> str:
    pieces = [static[0]]
    for value, chunk in zip(values, static[1:], strict=True):
        pieces.append(value)
        pieces.append(chunk)
    return "".join(pieces)


@dataclass(eq=False)
class CompiledEdition:
    """An edition compiled once; hand it to `personalise` for each reader.

    `attachments` are the same for every reader; `subject` is the whole edition's (a
    variant that leaves items out may have its own). Variants are compiled on first use per
    (topic set, items left out) (see the module docstring); the whole edition's, for
    every kind but per-topic ones, by `compile_edition`.
    """

    edition: EditionView
    branding: Branding
    template: str
    subject: str
    attachments: tuple[Attachment, ...]
    _environment: jinja2.Environment = field(repr=False)
    _nonce: str = field(repr=False)
    _variants: dict[VariantKey, CompiledVariant] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: With link counts on, how this edition's links are rewritten (`dispatch.editions.links`).
    link_plan: links.LinkPlan | None = field(default=None, repr=False)

    @property
    def by_topic(self) -> bool:
        """True when readers see only the items of their own topics (digests, some alerts)."""
        return self.edition.per_topic or self.edition.kind == "digest"

    def topic_key(self, topics: Iterable[str] | None) -> frozenset[str] | None:
        """The variant a reader following `topics` gets; None means every section."""
        if not self.by_topic or topics is None:
            return None
        present = {topic for item in self.edition.items for topic in item.topics}
        return frozenset(present.intersection(topics))

    def variant(
        self, topics: Iterable[str] | None = None, left_out: Iterable[int] = ()
    ) -> CompiledVariant:
        """The compiled variant for a reader following `topics` who already has the items
        `left_out` (compiled on first use)."""
        present = {item.id for item in self.edition.items}
        key = (self.topic_key(topics), frozenset(i for i in left_out if i in present))
        found = self._variants.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._variants.get(key)
            if found is None:
                found = _compile_variant(self, *key)
                self._variants[key] = found
        return found

    def variant_for(self, recipient: RecipientView) -> CompiledVariant:
        return self.variant(recipient.topics, recipient.left_out)

    def has_content_for(self, recipient: RecipientView) -> bool:
        """False when `recipient`'s copy would hold no item: nothing in their topics, or
        nothing they did not already receive. Better not sent at all."""
        if not self.by_topic and not recipient.left_out:
            return True
        return self.variant_for(recipient).item_count > 0

    @property
    def variant_count(self) -> int:
        return len(self._variants)


# --- Context ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SlotRecipient:
    """What templates see as `recipient`: one token per slot."""

    greeting: str
    name: str
    email: str
    unsubscribe_url: str
    preferences_url: str
    confirm_url: str


def _sections(
    edition: EditionView, items: list[ItemView], topics: frozenset[str] | None
) -> list[tuple[str, str, list[ItemView]]]:
    """Digest sections (slug, title, items): each item under its first followed topic."""
    order = list(edition.topic_names)
    for item in items:
        order.extend(t for t in item.topics if t not in order)
    rank = {slug: position for position, slug in enumerate(order)}
    grouped: dict[str, list[ItemView]] = {}
    for item in items:
        followed = [t for t in item.topics if topics is None or t in topics]
        if followed:
            grouped.setdefault(min(followed, key=rank.__getitem__), []).append(item)
    return [
        (slug, edition.topic_names.get(slug, slug), grouped[slug])
        for slug in order
        if slug in grouped
    ]


def _chapters(items: list[ItemView]) -> list[tuple[str, list[ItemView]]]:
    """A staff letter's own sections, (title, items) in the staff's order; [] when it has
    none (it then groups its items by kind). Items before the first section have no title;
    a section none of whose items this reader gets is not there."""
    if not any(item.section for item in items):
        return []
    chapters: list[tuple[str, list[ItemView]]] = []
    for item in items:
        if not chapters or chapters[-1][0] != item.section:
            chapters.append((item.section, []))
        chapters[-1][1].append(item)
    return chapters


def _context(
    compiled: CompiledEdition,
    topics: frozenset[str] | None,
    left_out: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    edition, branding = compiled.edition, compiled.branding
    locale = i18n.normalise_locale(edition.locale)
    items = [item for item in edition.items if item.id not in left_out]
    if compiled.by_topic and topics is not None:
        items = [item for item in items if topics.intersection(item.topics)]
    picks = [item for item in items if item.kind == "pick"]
    tags = [tag for tag in PICK_TAGS if any(p.tag == tag for p in picks)]
    if any(not p.tag for p in picks):
        tags.append("")
    events = [item for item in items if item.kind == "event" and item.event_start]
    sections = _sections(edition, items, topics) if edition.kind == "digest" else []
    chapters = _chapters(items) if edition.kind == "newsletter" else []
    token = SLOT_HOST + compiled._nonce + "/"
    return {
        "locale": locale,
        "_": i18n.translator(locale),
        "edition": edition,
        "branding": branding,
        "colours": palette(branding),
        "recipient": _SlotRecipient(**{name: token + name for name in SLOT_NAMES}),
        "bulk": edition.kind not in TRANSACTIONAL_KINDS,
        "items": items,
        "posts": [item for item in items if item.kind == "post"],
        "events": events,
        "picks_by_tag": [(tag, [p for p in picks if p.tag == tag]) for tag in tags],
        "sections": sections,
        "chapters": chapters,
        "google_calendar_url": ics.google_calendar_url,
        "outlook_calendar_url": ics.outlook_calendar_url,
        "preheader": edition.preheader
        or _default_preheader(
            [i for _, _, group in sections for i in group] if edition.kind == "digest" else items
        ),
        "subject": compiled.subject,
    }


def _default_preheader(items: list[ItemView]) -> str:
    return " · ".join(item.title for item in items[:3])


# --- Compilation -----------------------------------------------------------------------


def _render(environment: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return environment.get_template(name).render(context)
    except jinja2.TemplateNotFound as error:
        raise CompositionError(f"email template {error.name!r} does not exist") from error
    except jinja2.TemplateSyntaxError as error:
        raise CompositionError(
            f"email template {error.filename or name} line {error.lineno}: {error.message}"
        ) from error
    except jinja2.UndefinedError as error:
        raise CompositionError(f"email template {name}: {error.message}") from error


def _mjml_to_html(source: str, template: str) -> str:
    try:
        html = mjml2html(source, disable_comments=False)
    except Exception as error:  # mjml-python raises bare exceptions from Rust
        raise CompositionError(
            f"email template {template}: MJML does not compile: {error}"
        ) from error
    return html if isinstance(html, str) else str(html.html)


# mjml's hidden preheader is white on white: spam filters score "text the same colour as
# its background" (SpamAssassin HTML_FONT_LOW_CONTRAST) even when it is display:none.
_PREHEADER_STYLE = 'style="display:none;font-size:1px;color:#ffffff;line-height:1px;'


def _inline_css(html: str) -> str:
    html = html.replace(_PREHEADER_STYLE, 'style="display:none;font-size:1px;line-height:1px;', 1)
    inlined = Premailer(
        html,
        disable_validation=True,
        allow_network=False,
        remove_classes=False,
        strip_important=False,
        keep_style_tags=False,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()
    # premailer (lxml) drops the doctype; without it clients fall back to quirks mode.
    if not inlined.lstrip().lower().startswith("<!doctype"):
        inlined = _DOCTYPE + "\n" + inlined
    return inlined


def _split(document: str, nonce: str, where: str) -> SplitText:
    pattern = re.compile(re.escape(SLOT_HOST + nonce + "/") + r"([a-z_]+)")
    parts = pattern.split(document)
    slots = tuple(parts[1::2])
    unknown = sorted(set(slots) - set(SLOT_NAMES))
    if unknown:
        raise CompositionError(f"{where} uses unknown recipient fields: {', '.join(unknown)}")
    return SplitText(static=tuple(parts[0::2]), slots=slots)


_NOTHING = SplitText(static=("",), slots=())


def _compile_variant(
    compiled: CompiledEdition, topics: frozenset[str] | None, left_out: frozenset[int]
) -> CompiledVariant:
    environment, template = compiled._environment, compiled.template
    context = _context(compiled, topics, left_out)
    shown: list[ItemView] = (
        [item for _, _, group in context["sections"] for item in group]
        if compiled.edition.kind == "digest"
        else context["items"]
    )
    if not shown and left_out:
        # Nobody is sent a copy with nothing new (`has_content_for`): nothing to compile.
        return CompiledVariant(html=_NOTHING, text=_NOTHING, item_count=0)
    if compiled.edition.kind == "alert" and (left_out or topics is not None):
        # Only an alert's subject depends on its items (the one item's title).
        context["subject"] = _subject(environment, template, context)
    mjml_source = _render(environment, f"{template}/body.mjml", context)
    raw_html = _mjml_to_html(mjml_source, template)
    html = _inline_css(raw_html)
    marker = SLOT_HOST + compiled._nonce + "/"
    if html.count(marker) != raw_html.count(marker):
        raise CompositionError(
            f"email template {template}: a recipient field did not survive CSS inlining"
        )
    text = _render(environment, f"{template}/body.txt", context).strip() + "\n"
    text = re.sub(r"\n{3,}", "\n\n", text)
    html, text = links.rewrite(compiled.link_plan, compiled.edition.kind, html, text)
    return CompiledVariant(
        html=_split(html, compiled._nonce, f"{template}/body.mjml"),
        text=_split(text, compiled._nonce, f"{template}/body.txt"),
        item_count=len(shown),
        subject=context["subject"],
        item_ids=tuple(item.id for item in shown if isinstance(item.id, int)),
    )


def _subject(environment: jinja2.Environment, template: str, context: Mapping[str, Any]) -> str:
    subject = i18n.one_line(_render(environment, f"{template}/subject.txt", context))
    if not subject:
        raise CompositionError(f"email template {template}: the subject is empty")
    if SLOT_HOST in subject:
        raise CompositionError(f"email template {template}: a subject cannot be personalised")
    return subject


def compile_edition(
    edition: EditionView,
    branding: Branding,
    *,
    template: str | None = None,
    templates_dir: Path | None = None,
    link_plan: links.LinkPlan | None = None,
) -> CompiledEdition:
    """Compile `edition` once: subject, attachments and its (first) HTML + text variant.

    `template` names a folder under ``templates/email/`` and defaults to the edition's
    kind. Raises `CompositionError` with a message staff can act on when a template is
    broken or the edition cannot be shown (e.g. an event email without an event).
    """
    name = template or edition.kind
    if name not in EDITION_KINDS and template is None:
        raise CompositionError(f"no email template for editions of kind {edition.kind!r}")
    environment = email_environment(templates_dir or TEMPLATES_DIR)
    events = tuple(i for i in edition.items if i.kind == "event" and i.event_start)
    if edition.kind == "event" and not events:
        raise CompositionError("an event email needs at least one event with a start date")
    compiled = CompiledEdition(
        edition=edition,
        branding=branding,
        template=name,
        subject="",
        attachments=(),
        _environment=environment,
        _nonce=secrets.token_hex(8),
        link_plan=link_plan,
    )
    compiled.subject = _subject(environment, name, _context(compiled, None))
    if edition.kind == "event":
        compiled.attachments = (calendar_attachment(edition, branding, events),)
    if not compiled.by_topic:
        compiled.variant(None)
    return compiled


def calendar_attachment(
    edition: EditionView, branding: Branding, events: tuple[ItemView, ...]
) -> Attachment:
    """The `.ics` an event email carries: PUBLISH to add or update, CANCEL to take it off."""
    method: ics.Method = "CANCEL" if edition.event_phase == "cancelled" else "PUBLISH"
    data = ics.build_ics(
        events,
        uid_domain=calendar_uid_domain(branding),
        method=method,
        organiser=(branding.sender_name, branding.from_address),
    )
    return Attachment(
        filename="evenement.ics" if i18n.normalise_locale(edition.locale) == "fr" else "event.ics",
        content_type=f"text/calendar; charset=utf-8; method={method}",
        data=data,
    )


def calendar_uid_domain(branding: Branding) -> str:
    """The domain of every event's calendar UID: the same in emails and on the web."""
    return branding.list_id_domain or branding.from_address.rpartition("@")[2]


# --- Personalisation -------------------------------------------------------------------


def _greeting(locale: str, name: str) -> str:
    name = " ".join(name.split())
    if name:
        return i18n.gettext(locale, "Hello %(name)s,") % {"name": name}
    return i18n.gettext(locale, "Hello,")


def slot_values(compiled: CompiledEdition, recipient: RecipientView) -> dict[str, str]:
    """The plain-text value of every slot for `recipient` (unescaped)."""
    locale = i18n.normalise_locale(compiled.edition.locale)
    return {
        "greeting": _greeting(locale, recipient.name),
        "name": " ".join(recipient.name.split()),
        "email": recipient.email,
        "unsubscribe_url": safe_link(recipient.unsubscribe_url),
        "preferences_url": safe_link(recipient.preferences_url),
        "confirm_url": safe_link(recipient.confirm_url),
    }


_escape: Callable[..., str] = html_lib.escape


def personalise(compiled: CompiledEdition, recipient: RecipientView) -> RenderedMessage:
    """`recipient`'s copy of `compiled`: slot values filled in, nothing recompiled.

    Values are HTML-escaped in the HTML part and left as they are in the text part. The
    edition's language is used, whatever `recipient.locale` says: compile one edition per
    language and pick by the reader's locale.
    """
    variant = compiled.variant_for(recipient)
    values = slot_values(compiled, recipient)
    html_values = tuple(_escape(values[slot], quote=True) for slot in variant.html.slots)
    text_values = tuple(values[slot] for slot in variant.text.slots)
    return RenderedMessage(
        kind=compiled.edition.kind,
        locale=i18n.normalise_locale(compiled.edition.locale),
        subject=variant.subject or compiled.subject,
        to_email=recipient.email,
        to_name=values["name"],
        unsubscribe_url=values["unsubscribe_url"],
        unsubscribe_mailto=recipient.unsubscribe_mailto,
        html_static=variant.html.static,
        html_values=html_values,
        text_static=variant.text.static,
        text_values=text_values,
        attachments=compiled.attachments,
        edition_key=compiled.edition.key,
        item_ids=variant.item_ids,
    )
