"""Editions as the sending engine needs them: from an `Edition` row to compiled email.

Entry points, read-only on the database (but for the link targets `compile_for_send`
records when `mail.link_counts` is on, see `dispatch.editions.links`):

- `branding(settings)`: who sends (name, addresses, colours), from settings;
- `edition_view(session, edition, locale=…)`: the frozen view templates see, items in the
  staff's order, the intro's Markdown turned into sanitised HTML;
- `compile_for_send(session, edition_id, settings)`: the edition compiled once per language
  it is read in (`SendCompilation.for_locale`: a reader gets their own language when the
  edition is written in it, otherwise the whole edition in its main language);
- `compile_for_archive(...)`: the online version, without greeting or personal links.

`compile_for_send` compiles every time it is called: the process-wide cache that makes a
worker compile each edition once lives with the sending engine (`dispatch.delivery.prepared`),
beside the MIME parts it keeps with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import markdown
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.config import Settings
from dispatch.content.models import ContentItem, Topic
from dispatch.content.sanitise import clean_html
from dispatch.editions import links, typography
from dispatch.editions.compose import CompiledEdition, CompositionError, compile_edition
from dispatch.editions.models import Edition
from dispatch.editions.views import EVENT_PHASES, Branding, EditionView, ItemView

#: Languages an edition without a fixed locale is compiled in (each reader gets their own).
SEND_LOCALES: tuple[str, ...] = ("fr", "en")
_PICK_TAGS = frozenset({"onaime", "controverse", "mustread"})


def branding(settings: Settings) -> Branding:
    """The sender's identity and look, from `[branding]` and `[mail]` settings."""
    brand, mail = settings.branding, settings.mail
    return Branding(
        org_name=brand.org_name,
        from_address=mail.from_address,
        from_name=mail.from_name,
        reply_to=mail.reply_to,
        postal_address=brand.postal_address,
        site_url=brand.site_url,
        list_id_domain=mail.list_id,
        logo_url=brand.logo_url,
        logo_alt=brand.logo_alt or brand.org_name,
        primary_colour=brand.primary_colour,
        text_colour=brand.text_colour,
    )


def intro_html(text: str) -> str:
    """Staff-written Markdown as sanitised HTML (raw HTML in it is cleaned, not trusted)."""
    if not text.strip():
        return ""
    return clean_html(markdown.markdown(text, output_format="html"))


def event_ics_url(base_url: str, item_id: int) -> str:
    """Where an event's calendar file is served (`dispatch.web.events`)."""
    return f"{base_url.rstrip('/')}/events/{item_id}.ics" if base_url else ""


def _view_end(all_day: bool, end: datetime | None) -> datetime | None:
    # Items keep an all-day event's last day; views (and iCalendar) the day after it.
    if all_day and end is not None:
        return end + timedelta(days=1)
    return end


def item_view(item: ContentItem, *, base_url: str = "") -> ItemView:
    """One content item as templates show it (with its calendar file's URL for an event)."""
    tag = item.tag if item.tag in _PICK_TAGS else ""
    kind = item.kind if item.kind in ("post", "event", "pick") else "post"
    event = kind == "event" and item.event_start is not None
    return ItemView(
        id=item.id,
        kind=kind,  # type: ignore[arg-type]
        title=item.title,
        url=item.url,
        summary_html=item.summary_html or "",
        excerpt=item.excerpt or "",
        image_url=item.image_url or "",
        image_alt=item.image_alt or "",
        published_at=item.published_at,
        topics=tuple(topic.slug for topic in item.topics),
        tag=tag,  # type: ignore[arg-type]
        comment=item.comment or "",
        event_start=item.event_start,
        event_end=_view_end(item.all_day, item.event_end),
        all_day=item.all_day,
        location=item.location or "",
        ics_url=event_ics_url(base_url, item.id) if event else "",
        event_timezone=item.event_timezone or "",
        online_url=item.online_url or "",
        registration_url=item.registration_url or "",
        organiser=item.organiser or "",
        cost=item.cost or "",
        cancelled=item.event_status == "cancelled",
        sequence=item.event_sequence or 0,
        modified_at=item.updated_at or item.first_seen_at,
    )


def _shown(item: ContentItem) -> bool:
    """Published items, and cancelled events: readers are told they are off."""
    return item.status == "published" or (item.kind == "event" and item.event_status == "cancelled")


def event_before(view: ItemView, before: dict[str, Any]) -> ItemView:
    """The event as it was before a change (`EventChange.before`), for a change notice."""

    def moment(name: str) -> datetime | None:
        value = before.get(name)
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    all_day = bool(before.get("all_day"))
    return replace(
        view,
        event_start=moment("event_start"),
        event_end=_view_end(all_day, moment("event_end")),
        all_day=all_day,
        event_timezone=before.get("event_timezone") or "",
        location=before.get("location") or "",
        online_url=before.get("online_url") or "",
        cancelled=bool(before.get("cancelled")),
    )


def edition_language(edition: Edition, locale: str | None, *, default_locale: str) -> str:
    """The one language a reader whose language is `locale` reads `edition` in.

    Their own when the edition is written in it (its main text, or a translation with a
    subject), or when it has no staff-written text at all and no fixed language (alerts,
    digests: the templates speak every language). Otherwise the edition's main language,
    as a whole: never English headings around a French intro.
    """
    main = i18n.normalise_locale(edition.locale or default_locale)
    wanted = i18n.normalise_locale(locale or main)
    if wanted == main or _translation(edition, wanted) is not None:
        return wanted
    staff_text = edition.subject or edition.preheader or edition.intro
    return wanted if not staff_text and not edition.locale else main


def _translation(edition: Edition, locale: str) -> dict[str, str] | None:
    found = (edition.translations or {}).get(locale)
    if isinstance(found, dict) and str(found.get("subject") or "").strip():
        return {name: str(found.get(name) or "") for name in ("subject", "preheader", "intro")}
    return None


def edition_texts(edition: Edition, locale: str, *, default_locale: str) -> tuple[str, str, str]:
    """Subject, preheader and intro (Markdown) of `edition` in `locale`: a translation when
    `locale` is not its main language and one exists, its main text otherwise."""
    main = i18n.normalise_locale(edition.locale or default_locale)
    translated = _translation(edition, locale) if locale != main else None
    if translated is not None:
        return translated["subject"], translated["preheader"], translated["intro"]
    return edition.subject, edition.preheader, edition.intro


def _in_sections(links: list[Any], locale: str, base_url: str) -> list[ItemView]:
    """The shown items, each with the title (in `locale`) of the staff section it is in: the
    last heading at or before it, even when the item that opened the section is not shown."""
    views = []
    section = ""
    for link in links:
        if link.heading:
            section = link.heading.get(locale) or ""
        if _shown(link.item):
            view = item_view(link.item, base_url=base_url)
            views.append(replace(view, section=section) if section else view)
    return views


def edition_view(
    session: Session,
    edition: Edition,
    *,
    locale: str,
    base_url: str = "",
    default_locale: str = i18n.DEFAULT_LOCALE,
    archive: bool = False,
) -> EditionView:
    """The edition in `locale`: items in the staff's order (unpublished ones left out).

    `locale` is the language the whole email speaks (see `edition_language`); the staff's
    text is its translation in `locale` when there is one. French text gets French spacing.
    With `base_url`, a newsletter links to its page in the public archive ("view online").
    `archive` makes the online version: no greeting, no reader's address or personal links.
    """
    locale = i18n.normalise_locale(locale)
    french = locale == "fr"
    links = sorted(edition.items, key=lambda link: link.position)
    items = tuple(
        typography.french_item(view) if french else view
        for view in _in_sections(links, locale, base_url)
    )
    names = {
        topic.slug: (topic.name_fr if locale == "fr" else topic.name_en)
        for topic in session.scalars(select(Topic).order_by(Topic.position, Topic.slug))
    }
    period = edition.audience.get("frequency") if edition.kind == "digest" else ""
    spec = edition.audience or {}
    phase = spec.get("phase") if edition.kind == "event" else None
    before = None
    if phase == "changed" and items and isinstance(spec.get("before"), dict):
        before = event_before(items[0], spec["before"])
    subject, preheader, intro = edition_texts(edition, locale, default_locale=default_locale)
    intro_part = intro_html(intro)
    if french:
        subject, preheader = i18n.french_spacing(subject), i18n.french_spacing(preheader)
        intro_part = typography.french_html(intro_part)
    online = base_url and edition.kind == "newsletter"
    return EditionView(
        kind=edition.kind,  # type: ignore[arg-type]
        subject=subject,
        locale=locale,
        intro_html=intro_part,
        preheader=preheader,
        items=items,
        topic_names=names,
        key=f"edition-{edition.id}",
        digest_period=period if period in ("weekly", "monthly") else "",  # type: ignore[arg-type]
        web_url=archive_url(base_url, edition.id, locale) if online and not archive else "",
        event_phase=phase if phase in EVENT_PHASES else "announcement",
        reminder_days=int(spec.get("offset_days") or 0),
        event_before=before,
        per_topic=edition.kind == "digest"
        or (edition.kind == "alert" and bool(spec.get("topics"))),
        archive=archive,
        subscribe_url=base_url.rstrip("/") + "/" if archive and base_url else "",
    )


def archive_url(base_url: str, edition_id: int, locale: str) -> str:
    """The public archive page of a newsletter (served by dispatch.web.archive)."""
    return f"{base_url.rstrip('/')}/archive/{edition_id}?lang={locale}"


@dataclass
class SendCompilation:
    """An edition compiled for sending, one `CompiledEdition` per language it goes out in.

    `languages` maps each reader language to the language they read the edition in (their
    own, or the main one when the edition has no translation in theirs).
    """

    edition_id: int
    version: datetime | None
    fixed_locale: str | None
    by_locale: dict[str, CompiledEdition] = field(default_factory=dict)
    languages: dict[str, str] = field(default_factory=dict)
    main_locale: str = i18n.DEFAULT_LOCALE

    def for_locale(self, locale: str | None) -> CompiledEdition:
        """The compiled edition a reader whose language is `locale` receives."""
        wanted = i18n.normalise_locale(locale or self.main_locale)
        return self.by_locale[self.languages.get(wanted, self.main_locale)]


def compile_for_send(session: Session, edition_id: int, settings: Settings) -> SendCompilation:
    """The edition compiled in each language it is sent in, each language once.

    Raises `CompositionError` (a message staff can act on) for a missing edition or a broken
    template.
    """
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise CompositionError(f"edition {edition_id} does not exist")
    default = settings.app.default_locale
    fixed = i18n.normalise_locale(edition.locale) if edition.locale else None
    main = fixed or i18n.normalise_locale(default)
    compilation = SendCompilation(edition_id, edition.updated_at, fixed, main_locale=main)
    brand = branding(settings)
    plan = links.plan_for(settings, edition)  # None unless mail.link_counts is on
    for reader_locale in SEND_LOCALES:
        language = edition_language(edition, reader_locale, default_locale=default)
        compilation.languages[reader_locale] = language
        if language not in compilation.by_locale:
            view = edition_view(
                session,
                edition,
                locale=language,
                base_url=settings.app.base_url,
                default_locale=default,
            )
            compilation.by_locale[language] = compile_edition(
                view, brand, template=edition.template, link_plan=plan
            )
    links.record(session, plan, compilation.by_locale.values())
    return compilation


def compile_for_archive(
    session: Session, edition: Edition, settings: Settings, *, locale: str | None
) -> CompiledEdition:
    """The online version of `edition` for a visitor reading `locale`: the archive variant
    of its templates (no greeting, no address, no personal links), in one language."""
    default = settings.app.default_locale
    language = edition_language(edition, locale, default_locale=default)
    view = edition_view(
        session,
        edition,
        locale=language,
        base_url=settings.app.base_url,
        default_locale=default,
        archive=True,
    )
    return compile_edition(view, branding(settings), template=edition.template)
