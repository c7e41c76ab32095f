"""Composing editions from content items (choosing, ordering, checking subject and intro,
creating and editing drafts), and previewing and test-sending them before the real send.
Functions take a session first and flush; the caller commits.

Order in a newsletter: posts (newest first), then upcoming events (soonest first; past events,
events more than `EVENT_HORIZON` ahead and later dates of a recurring event are left out),
then curated picks grouped by tag (#onaime, #controverse, #mustread, then any other tag),
newest first within a tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.audience.addresses import InvalidInputError, normalise_email
from dispatch.audience.models import Preference, Subscriber
from dispatch.config import Settings
from dispatch.content import service as content
from dispatch.content.models import ContentItem, Topic, item_topics
from dispatch.db import utcnow
from dispatch.delivery import subscribers as subscriber_links
from dispatch.delivery.mime import HeaderError
from dispatch.delivery.paths import mail_transport, message_factory
from dispatch.delivery.transport import MailTransport
from dispatch.editions.compose import (
    CompiledEdition,
    CompositionError,
    RenderedMessage,
    personalise,
)
from dispatch.editions.models import Edition, EditionItem
from dispatch.editions.service import compile_for_send, intro_html
from dispatch.editions.views import PICK_TAGS, RecipientView

#: Editions whose content may still change; once sending starts, what went out is fixed.
EDITABLE_STATUSES = ("draft", "scheduled")
#: Kinds staff compose by hand (digests come from the beat, see `dispatch.editions.digests`).
COMPOSED_KINDS = ("newsletter", "alert")
#: How far back a first newsletter looks when there is no earlier one to start from.
FIRST_NEWSLETTER_LOOKBACK = timedelta(days=30)
#: Events further ahead than this wait for a later edition.
EVENT_HORIZON = timedelta(days=120)
MAX_SUBJECT = 200
MAX_PREHEADER = 200
MAX_INTRO = 20_000
MAX_ITEMS = 60
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


class DraftError(ValueError):
    """An edition that cannot be created or changed as asked; the message says why."""


# --- checks -------------------------------------------------------------------------------


def check_subject(subject: str) -> str:
    """The subject as stored: one line, not empty, at most `MAX_SUBJECT` characters."""
    text = subject.strip()
    if _CONTROL.search(text) or "\n" in text or "\t" in text:
        raise DraftError("The subject must be one line of text (no line breaks).")
    if not text:
        raise DraftError("The subject is empty.")
    if len(text) > MAX_SUBJECT:
        raise DraftError(f"The subject is {len(text)} characters long; at most {MAX_SUBJECT}.")
    return text


def check_preheader(preheader: str) -> str:
    text = " ".join(preheader.split())
    if _CONTROL.search(text):
        raise DraftError("The preheader contains a control character.")
    if len(text) > MAX_PREHEADER:
        raise DraftError(f"The preheader is longer than {MAX_PREHEADER} characters.")
    return text


def check_intro(markdown_text: str) -> str:
    """The intro's Markdown as stored (line ends normalised); refused if too long."""
    text = markdown_text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(text):
        raise DraftError("The intro contains control characters: is it really a text file?")
    if len(text) > MAX_INTRO:
        raise DraftError(f"The intro is {len(text)} characters long; at most {MAX_INTRO}.")
    intro_html(text)  # Markdown that cannot be converted fails here, not at send time
    return text


def check_locale(locale: str | None) -> str | None:
    if locale is None or not locale.strip():
        return None
    code = locale.strip().lower()
    if code not in ("fr", "en"):
        raise DraftError(f"Unknown language {locale!r}: fr or en (or none: each reader's own).")
    return code


# --- choosing items -----------------------------------------------------------------------


def published_time() -> ColumnElement[datetime]:
    """When an item counts as published: its own date, else when dispatch first saw it."""
    return func.coalesce(ContentItem.published_at, ContentItem.first_seen_at)


def _when(item: ContentItem) -> datetime:
    return item.published_at or item.first_seen_at


def _event_is_upcoming(item: ContentItem, now: datetime) -> bool:
    end = item.event_end or item.event_start
    return end is not None and end >= now


def order_items(items: Iterable[ContentItem], *, now: datetime | None = None) -> list[ContentItem]:
    """Newsletter order: posts, upcoming events, picks by tag (see the module docstring)."""
    now = now or utcnow()
    unique = list({item.id: item for item in items}.values())
    posts = sorted(
        (i for i in unique if i.kind not in ("event", "pick")), key=lambda i: (_when(i), i.id)
    )
    posts.reverse()
    events: list[ContentItem] = []
    seen_titles: set[str] = set()
    for event in sorted(
        (i for i in unique if i.kind == "event" and _event_is_upcoming(i, now)),
        key=lambda i: (i.event_start or now, i.id),
    ):
        # A recurring event (a workshop every first Thursday) shows once: its next date.
        title = " ".join(event.title.casefold().split())
        if title in seen_titles or (event.event_start or now) > now + EVENT_HORIZON:
            continue
        seen_titles.add(title)
        events.append(event)
    tag_rank = {tag: n for n, tag in enumerate(PICK_TAGS)}

    def pick_key(item: ContentItem) -> tuple[int, str, float, int]:
        tag = item.tag or ""
        return (tag_rank.get(tag, len(PICK_TAGS)), tag, -_when(item).timestamp(), -item.id)

    picks = sorted((i for i in unique if i.kind == "pick"), key=pick_key)
    return [*posts, *events, *picks]


def last_newsletter_time(session: Session) -> datetime | None:
    """When the latest newsletter went (or is due to go) out; drafts and cancelled ones
    don't count."""
    return session.scalar(
        select(func.max(func.coalesce(Edition.started_at, Edition.send_at))).where(
            Edition.kind == "newsletter",
            Edition.status.in_(("scheduled", "sending", "paused", "sent")),
        )
    )


def _with_topics(query: Any, session: Session, topics: Sequence[str]) -> Any:
    if not topics:
        return query
    try:
        wanted = [t.id for t in content.topics_by_slug(session, topics)]
    except content.ContentError as error:
        raise DraftError(str(error)) from error
    return query.where(
        exists(
            select(item_topics.c.item_id).where(
                item_topics.c.item_id == ContentItem.id, item_topics.c.topic_id.in_(wanted)
            )
        )
    )


def items_published_between(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None = None,
    topics: Sequence[str] = (),
    limit: int = 500,
) -> list[ContentItem]:
    """Published items first published in [since, until), any of `topics` if given."""
    query = select(ContentItem).where(ContentItem.status == "published")
    if since is not None:
        query = query.where(published_time() >= since)
    if until is not None:
        query = query.where(published_time() < until)
    query = _with_topics(query, session, topics)
    return list(session.scalars(query.order_by(published_time().desc()).limit(limit)))


def default_items(
    session: Session,
    *,
    since: datetime | None = None,
    topics: Sequence[str] = (),
    now: datetime | None = None,
) -> list[ContentItem]:
    """What a new newsletter holds unless staff choose: items published since `since`
    (default: since the last newsletter, or the last 30 days for a first one), ordered."""
    now = now or utcnow()
    if since is None:
        since = last_newsletter_time(session) or now - FIRST_NEWSLETTER_LOOKBACK
    found = items_published_between(session, since=since, topics=topics)
    return order_items(found, now=now)[:MAX_ITEMS]


def items_by_ids(session: Session, ids: Sequence[int]) -> list[ContentItem]:
    """The items staff named, in their order; unknown, unpublished or repeated ids refused."""
    if not ids:
        raise DraftError("No items given.")
    repeated = sorted({i for i in ids if list(ids).count(i) > 1})
    if repeated:
        raise DraftError(f"Item(s) given twice: {', '.join(map(str, repeated))}.")
    if len(ids) > MAX_ITEMS:
        raise DraftError(f"{len(ids)} items is too many for one email; at most {MAX_ITEMS}.")
    found = {i.id: i for i in session.scalars(select(ContentItem).where(ContentItem.id.in_(ids)))}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise DraftError(f"No item with id {', '.join(missing)} (see `dispatch items list`).")
    hidden = [str(i) for i in ids if found[i].status != "published"]
    if hidden:
        raise DraftError(f"Item(s) {', '.join(hidden)} are no longer published.")
    return [found[i] for i in ids]


# --- creating and editing -----------------------------------------------------------------


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise DraftError(f"Edition {edition_id} does not exist (see `dispatch editions list`).")
    return edition


def _set_items(session: Session, edition: Edition, items: Sequence[ContentItem]) -> None:
    edition.items.clear()
    session.flush()
    for position, item in enumerate(items):
        edition.items.append(EditionItem(item=item, position=position))
    # Item changes do not touch the editions row; the compiled-edition cache keys on it.
    edition.updated_at = utcnow()
    session.flush()


def create_edition(
    session: Session,
    *,
    subject: str,
    items: Sequence[ContentItem],
    intro: str = "",
    preheader: str = "",
    kind: str = "newsletter",
    topics: Sequence[str] = (),
    locale: str | None = None,
) -> Edition:
    """A draft edition holding `items` in that order, for subscribers of `topics` (all if
    none), in `locale` (each reader's own language if None)."""
    if kind not in COMPOSED_KINDS:
        raise DraftError(f"Unknown kind {kind!r}: {' or '.join(COMPOSED_KINDS)}.")
    if not items:
        raise DraftError(
            "No items to put in this edition: name some with --items, or widen --since."
        )
    slugs: list[str] = []
    if topics:
        try:
            slugs = [t.slug for t in content.topics_by_slug(session, topics)]
        except content.ContentError as error:
            raise DraftError(str(error)) from error
    audience: dict[str, Any] = {"topics": slugs} if slugs else {}
    if kind == "alert":
        audience["frequency"] = "immediately"
    edition = Edition(
        kind=kind,
        template=kind,
        subject=check_subject(subject),
        preheader=check_preheader(preheader),
        intro=check_intro(intro),
        locale=check_locale(locale),
        audience=audience,
        status="draft",
    )
    session.add(edition)
    session.flush()
    _set_items(session, edition, items)
    return edition


def update_edition(
    session: Session,
    edition_id: int,
    *,
    subject: str | None = None,
    intro: str | None = None,
    preheader: str | None = None,
    item_ids: Sequence[int] | None = None,
) -> Edition:
    """Change a draft or scheduled edition's subject, intro, preheader or items (and order)."""
    edition = session.get(Edition, edition_id, with_for_update=True)
    if edition is None:
        raise DraftError(f"Edition {edition_id} does not exist (see `dispatch editions list`).")
    if edition.status not in EDITABLE_STATUSES:
        raise DraftError(
            f"Edition {edition_id} is {edition.status}: only a draft or scheduled edition "
            "can be edited."
        )
    if subject is not None:
        edition.subject = check_subject(subject)
    if intro is not None:
        edition.intro = check_intro(intro)
    if preheader is not None:
        edition.preheader = check_preheader(preheader)
    if item_ids is not None:
        _set_items(session, edition, items_by_ids(session, item_ids))
    edition.updated_at = utcnow()
    session.flush()
    return edition


def list_editions(session: Session, *, kind: str | None = None, limit: int = 50) -> list[Edition]:
    query = select(Edition)
    if kind is not None:
        query = query.where(Edition.kind == kind)
    return list(session.scalars(query.order_by(Edition.id.desc()).limit(limit)))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def topic_names(session: Session, locale: str = "fr") -> dict[str, str]:
    return {
        t.slug: t.name(i18n.normalise_locale(locale))
        for t in session.scalars(select(Topic).order_by(Topic.position, Topic.slug))
    }


def edition_summary(edition: Edition) -> dict[str, Any]:
    """One line of `editions list`."""
    return {
        "id": edition.id,
        "kind": edition.kind,
        "status": edition.status,
        "subject": edition.subject,
        "locale": edition.locale,
        "items": len(edition.items),
        "audience": dict(edition.audience or {}),
        "send_at": _iso(edition.send_at),
        "created_at": _iso(edition.created_at),
    }


def edition_as_dict(edition: Edition) -> dict[str, Any]:
    """Everything `editions show` tells: the summary, intro, items in order, send progress."""
    data = edition_summary(edition)
    data.update(
        {
            "template": edition.template,
            "preheader": edition.preheader,
            "intro": edition.intro,
            "status_reason": edition.status_reason,
            "started_at": _iso(edition.started_at),
            "finished_at": _iso(edition.finished_at),
            "recipients": edition.recipients_total,
            "items": [
                {
                    "position": link.position,
                    **content.item_as_dict(link.item),
                }
                for link in sorted(edition.items, key=lambda link: link.position)
            ],
        }
    )
    return data


def parse_since(text: str, *, timezone: str = "Europe/Paris") -> datetime:
    """``2026-11-01`` (midnight) or ``2026-11-01 09:00`` in `timezone`, or with an offset."""
    from zoneinfo import ZoneInfo

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise DraftError(
            f"{text!r} is not a date: write it as 2026-11-01 or 2026-11-01 09:00."
        ) from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value


# --- previews and test sends --------------------------------------------------------------
# Both go through `compile_for_send` and the delivery domain's message factory and mail path,
# so what staff look at is what subscribers receive.


@dataclass(frozen=True, slots=True)
class Preview:
    """One edition as one reader receives it: the personalised parts and the final bytes."""

    edition_id: int
    locale: str
    recipient: RecipientView
    rendered: RenderedMessage
    eml: bytes

    @property
    def subject(self) -> str:
        return self.rendered.subject


@dataclass(frozen=True, slots=True)
class TestSendResult:
    address: str
    ok: bool
    detail: str  # where the outbox wrote it, or the server's reply / what went wrong


def reader_topics(
    session: Session, subscriber_id: int, *, frequency: str | None = None
) -> frozenset[str]:
    """The topics a subscriber follows (at `frequency`, when given): their digest sections."""
    query = (
        select(Topic.slug)
        .join(Preference, Preference.topic_id == Topic.id)
        .where(Preference.subscriber_id == subscriber_id)
    )
    if frequency:
        query = query.where(Preference.frequency == frequency)
    return frozenset(session.scalars(query))


def _placeholder_links(settings: Settings, purpose: str) -> str:
    # Not signed: clicking one in a preview or test shows "link not valid", never changes
    # anyone's subscription.
    return f"{settings.app.base_url.rstrip('/')}/{purpose}/preview"


def _edition_topics(edition: Edition) -> frozenset[str]:
    return frozenset(topic.slug for link in edition.items for topic in link.item.topics)


def sample_reader(
    settings: Settings, edition: Edition, *, locale: str, email: str = "", name: str | None = None
) -> RecipientView:
    """A made-up reader following every topic of the edition, with links that change nothing."""
    if name is None:
        name = "Camille Exemple" if locale == "fr" else "Sam Example"
    return RecipientView(
        email=email or "lectrice@example.org",
        name=name,
        locale=locale,
        unsubscribe_url=_placeholder_links(settings, "unsubscribe"),
        preferences_url=_placeholder_links(settings, "preferences"),
        topics=_edition_topics(edition),
    )


def subscriber_reader(
    session: Session, settings: Settings, edition: Edition, subscriber: Subscriber
) -> RecipientView:
    """A real subscriber as the sending engine would address them (signed links)."""
    frequency = (edition.audience or {}).get("frequency") if edition.kind == "digest" else None
    return RecipientView(
        email=subscriber.email,
        name=subscriber.name,
        locale=i18n.normalise_locale(subscriber.locale),
        unsubscribe_url=subscriber_links.unsubscribe_url(settings, subscriber.id),
        preferences_url=subscriber_links.preferences_url(settings, subscriber.id),
        topics=reader_topics(session, subscriber.id, frequency=frequency),
    )


def _find_subscriber(session: Session, address: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == address.strip().lower()))


def _test_reader(
    session: Session, settings: Settings, edition: Edition, address: str
) -> RecipientView:
    """A subscriber gets their own links (the ones they receive anyway); anyone else gets
    links that change nothing."""
    subscriber = _find_subscriber(session, address)
    if subscriber is not None:
        return subscriber_reader(session, settings, edition, subscriber)
    locale = i18n.normalise_locale(edition.locale or settings.app.default_locale)
    return sample_reader(settings, edition, locale=locale, email=address, name="")


def _compiled(
    session: Session, settings: Settings, edition: Edition, locale: str
) -> CompiledEdition:
    try:
        return compile_for_send(session, edition.id, settings).for_locale(locale)
    except CompositionError as error:
        raise DraftError(f"Edition {edition.id} cannot be composed: {error}") from error


def preview(
    session: Session,
    settings: Settings,
    edition_id: int,
    *,
    locale: str | None = None,
    as_email: str | None = None,
) -> Preview:
    """The edition as a sample reader (or the subscriber `as_email`) would receive it."""
    edition = get_edition(session, edition_id)
    reader: RecipientView
    if as_email:
        subscriber = _find_subscriber(session, as_email)
        if subscriber is None:
            raise DraftError(f"No subscriber with the address {as_email}.")
        reader = subscriber_reader(session, settings, edition, subscriber)
        chosen = edition.locale or locale or reader.locale
    else:
        chosen = edition.locale or locale or settings.app.default_locale
        reader = sample_reader(settings, edition, locale=i18n.normalise_locale(chosen))
    chosen = i18n.normalise_locale(chosen)
    compiled = _compiled(session, settings, edition, chosen)
    if compiled.by_topic and not compiled.has_content_for(reader):
        raise DraftError(
            f"This digest has nothing in {reader.email}'s topics: they would not receive it."
        )
    rendered = personalise(compiled, reader)
    try:
        built = message_factory(settings).build(rendered)
    except HeaderError as error:
        raise DraftError(f"The message cannot be built: {error}") from error
    return Preview(edition.id, chosen, reader, rendered, built.data)


def check_addresses(addresses: Iterable[str]) -> list[str]:
    """Validated, normalised, de-duplicated addresses; DraftError naming every bad one."""
    good: list[str] = []
    bad: list[str] = []
    for raw in addresses:
        for part in raw.split(","):
            if not part.strip():
                continue
            try:
                address = normalise_email(part)
            except InvalidInputError as error:
                bad.append(f"{part.strip()!r}: {error}")
                continue
            if address not in good:
                good.append(address)
    if bad:
        raise DraftError("Not an email address: " + "; ".join(bad))
    if not good:
        raise DraftError("Give at least one address with --to.")
    return good


def send_test(
    session: Session,
    settings: Settings,
    edition_id: int,
    addresses: Sequence[str],
    *,
    transport: MailTransport | None = None,
) -> list[TestSendResult]:
    """Send the edition to `addresses` through the configured mail path, marked as a test
    ("[Test]" subject, ``X-Dispatch-Test: yes``). Writes no Delivery row and changes no
    edition status: a test can be sent at any stage."""
    edition = get_edition(session, edition_id)
    targets = check_addresses(addresses)
    factory = message_factory(settings)
    sender = f"{settings.mail.bounce_local_part}@{settings.bounce_domain}"
    results: list[TestSendResult] = []
    with transport or mail_transport(settings) as path:
        for address in targets:
            reader = _test_reader(session, settings, edition, address)
            locale = i18n.normalise_locale(edition.locale or reader.locale)
            compiled = _compiled(session, settings, edition, locale)
            if compiled.by_topic and not compiled.has_content_for(reader):
                # Staff testing a digest see every section, whatever they follow themselves.
                reader = replace(reader, topics=_edition_topics(edition))
            try:
                built = factory.build(personalise(compiled, reader), test=True)
            except HeaderError as error:
                results.append(TestSendResult(address, False, str(error)))
                continue
            outcome = path.send(sender, built.recipient, built.data)
            results.append(TestSendResult(address, outcome.ok, outcome.summary()))
    return results
