"""Drafts: creating and editing the editions staff compose, with the checks on what they type.

Functions take a session first and flush; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import audit, i18n
from dispatch.content import items as content_items
from dispatch.content import topics as content_topics
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem, Topic
from dispatch.db import utcnow
from dispatch.editions.choosing import MAX_ITEMS, items_by_ids
from dispatch.editions.errors import DraftError
from dispatch.editions.models import Edition, EditionItem
from dispatch.editions.service import intro_html

#: Editions whose content may still change; once sending starts, what went out is fixed.
EDITABLE_STATUSES = ("draft", "scheduled")
#: Kinds staff compose by hand (digests come from the beat, see `dispatch.editions.digests`;
#: reminders and change notices from `dispatch.editions.reminders` and `notices`). An
#: "event" edition announces events, with their calendar file attached.
COMPOSED_KINDS = ("newsletter", "alert", "event")
MAX_SUBJECT = 200
MAX_PREHEADER = 200
MAX_INTRO = 20_000
MAX_HEADING = 120
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
__all__ = ["MAX_ITEMS", "DraftError"]


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
    text = i18n.one_line(preheader)
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


_TEXT_FIELDS = ("subject", "preheader", "intro")
_LANGUAGE_NAMES = {"fr": "French", "en": "English"}


def check_translation(language: str, texts: Mapping[str, Any]) -> dict[str, str] | None:
    """One language's subject, preheader and intro as stored; None when all are empty (no
    translation). A translation without a subject is refused: readers would get half."""
    unknown = sorted(set(texts) - set(_TEXT_FIELDS))
    if unknown:
        raise DraftError(f"Unknown fields in a translation: {', '.join(unknown)}.")
    values = {name: str(texts.get(name) or "") for name in _TEXT_FIELDS}
    if not any(value.strip() for value in values.values()):
        return None
    if not values["subject"].strip():
        name = _LANGUAGE_NAMES.get(language, language)
        raise DraftError(
            f"The {name} version has no subject: give one, or leave the {name} version out "
            "(its readers then get the whole edition in its main language)."
        )
    return {
        "subject": check_subject(values["subject"]),
        "preheader": check_preheader(values["preheader"]),
        "intro": check_intro(values["intro"]),
    }


def check_translations(
    translations: Mapping[str, Mapping[str, Any] | None] | None,
    *,
    current: Mapping[str, Any] | None = None,
    main: str | None = None,
) -> dict[str, dict[str, str]]:
    """Translations as stored: ``{"en": {"subject", "preheader", "intro"}}``.

    Fields not given keep their `current` value (so one can change only the English intro);
    a language given as None is removed. An edition fixed to one language (`main`) goes only
    to readers of that language, so it has no translations.
    """
    merged: dict[str, dict[str, str]] = {
        lang: dict(texts) for lang, texts in (current or {}).items() if isinstance(texts, dict)
    }
    for raw, texts in (translations or {}).items():
        language = raw.strip().lower()
        if language not in i18n.LOCALES:
            raise DraftError(f"Unknown language {raw!r} for a translation: fr or en.")
        if main and texts is not None:
            raise DraftError(
                f"This edition is sent only to readers in {_LANGUAGE_NAMES[main]} (its language "
                "is fixed): it has no other version. Leave its language open to send it in both."
            )
        if language == (main or i18n.DEFAULT_LOCALE):
            raise DraftError(
                f"{_LANGUAGE_NAMES[language]} is this edition's main language: "
                "its text is the subject, preheader and intro themselves."
            )
        if texts is None:
            merged.pop(language, None)
            continue
        checked = check_translation(language, {**merged.get(language, {}), **texts})
        if checked is None:
            merged.pop(language, None)
        else:
            merged[language] = checked
    return merged


def check_headings(
    headings: Mapping[int, Mapping[str, str] | None],
    *,
    main: str,
    languages: Sequence[str] = (),
    item_ids: Sequence[int] = (),
) -> dict[int, dict[str, str]]:
    """Section titles as stored: ``{item_id: {"fr": "Agenda", "en": "Events"}}``.

    A title is one line of at most `MAX_HEADING` characters, in the edition's `main` language
    and in each of its other `languages` (an English reader never reads a French title above
    English text); an item given an empty title opens no section.
    """
    chosen = set(item_ids)
    checked: dict[int, dict[str, str]] = {}
    for item_id, texts in headings.items():
        values = {lang: i18n.one_line(str(text or "")) for lang, text in (texts or {}).items()}
        values = {lang: text for lang, text in values.items() if text}
        if not values:
            continue
        if chosen and item_id not in chosen:
            raise DraftError(f"Item {item_id} is not in this edition: it cannot open a section.")
        for lang, text in values.items():
            if lang != main and lang not in languages:
                raise DraftError(
                    f"The section title « {text} » is in a language this edition is not "
                    f"written in ({lang})."
                )
            if _CONTROL.search(text) or len(text) > MAX_HEADING:
                raise DraftError(
                    f"A section title is one line of at most {MAX_HEADING} characters."
                )
        for lang in (main, *languages):
            if lang not in values:
                name = _LANGUAGE_NAMES.get(lang, lang)
                shown = next(iter(values.values()))
                raise DraftError(
                    f"The section « {shown} » has no {name} title: give one (its readers "
                    f"read the {name} version), or leave the section out."
                )
        checked[item_id] = values
    return checked


# --- creating and editing -----------------------------------------------------------------


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise DraftError(f"Edition {edition_id} does not exist (see `dispatch editions list`).")
    return edition


def _set_items(
    session: Session,
    edition: Edition,
    items: Sequence[ContentItem],
    headings: Mapping[int, dict[str, str]] | None = None,
) -> None:
    edition.items.clear()
    session.flush()
    for position, item in enumerate(items):
        heading = (headings or {}).get(item.id)
        edition.items.append(EditionItem(item=item, position=position, heading=heading))
    # Item changes do not touch the editions row; the compiled-edition cache keys on it.
    edition.updated_at = utcnow()
    session.flush()


def _topic_slugs(session: Session, topics: Sequence[str]) -> list[str]:
    if not topics:
        return []
    try:
        return [t.slug for t in content_topics.topics_by_slug(session, topics)]
    except ContentError as error:
        raise DraftError(str(error)) from error


def create_edition(  # noqa: PLR0913 - what a draft is made of, every one keyword-only
    session: Session,
    *,
    subject: str,
    items: Sequence[ContentItem],
    intro: str = "",
    preheader: str = "",
    kind: str = "newsletter",
    topics: Sequence[str] = (),
    locale: str | None = None,
    send_whole: bool = False,
    translations: Mapping[str, Mapping[str, Any] | None] | None = None,
    headings: Mapping[int, Mapping[str, str] | None] | None = None,
) -> Edition:
    """A draft edition holding `items` in that order (`headings`: the titles of the
    sections some of them open, see `check_headings`), for subscribers of `topics` (all if
    none), written in `locale` (the default language if None) and, through `translations`
    (``{"en": {"subject": …, "preheader": …, "intro": …}}``), in other languages: each
    reader gets their own language when there is a version in it, the main one otherwise.
    Each reader's copy leaves out what they already received, unless `send_whole` ("send
    every item to everyone")."""
    if kind not in COMPOSED_KINDS:
        raise DraftError(f"Unknown kind {kind!r}: {' or '.join(COMPOSED_KINDS)}.")
    if not items:
        raise DraftError(
            "No items to put in this edition: name some with --items, or widen --since."
        )
    slugs = _topic_slugs(session, topics)
    audience: dict[str, Any] = {"topics": slugs} if slugs else {}
    if kind == "alert":
        audience["frequency"] = "immediately"
    if kind == "event":
        if any(item.kind != "event" or item.event_start is None for item in items):
            raise DraftError("An event edition holds events only (see `dispatch events list`).")
        audience["phase"] = "announcement"
    edition = Edition(
        kind=kind,
        template=kind,
        subject=check_subject(subject),
        preheader=check_preheader(preheader),
        intro=check_intro(intro),
        locale=check_locale(locale),
        translations=check_translations(translations, main=check_locale(locale)),
        audience=audience,
        status="draft",
        send_whole=send_whole,
    )
    titles = check_headings(
        headings or {},
        main=edition.locale or i18n.DEFAULT_LOCALE,
        languages=list(edition.translations),
        item_ids=[item.id for item in items],
    )
    session.add(edition)
    session.flush()
    _set_items(session, edition, items, titles)
    audit.record(
        session,
        "edition.created",
        object_type="edition",
        object_id=edition.id,
        summary={"kind": kind, "subject": edition.subject, "items": len(items)},
    )
    return edition


def update_edition(  # noqa: PLR0913 - each a part of a draft one may change, keyword-only
    session: Session,
    edition_id: int,
    *,
    subject: str | None = None,
    intro: str | None = None,
    preheader: str | None = None,
    item_ids: Sequence[int] | None = None,
    send_whole: bool | None = None,
    translations: Mapping[str, Mapping[str, Any] | None] | None = None,
    topics: Sequence[str] | None = None,
    headings: Mapping[int, Mapping[str, str] | None] | None = None,
) -> Edition:
    """Change a draft or scheduled edition's subject, intro, preheader, items (and order),
    whether it goes whole to everyone, translations (see `check_translations`: given
    fields change, None removes a language), the topics whose readers get it (an empty
    list: every reader) or its section titles (`headings` replaces them; when only the
    items change, the titles of the items kept stay). The audience is counted when sending
    starts, so a scheduled edition's new topics hold."""
    edition = session.get(Edition, edition_id, with_for_update=True)
    if edition is None:
        raise DraftError(f"Edition {edition_id} does not exist (see `dispatch editions list`).")
    if edition.status not in EDITABLE_STATUSES:
        raise DraftError(
            f"Edition {edition_id} is {edition.status}: only a draft or scheduled edition "
            "can be edited."
        )
    changed = [
        name
        for name, value in (
            ("subject", subject),
            ("intro", intro),
            ("preheader", preheader),
            ("items", item_ids),
            ("send_whole", send_whole),
            ("translations", translations),
            ("topics", topics),
            ("headings", headings),
        )
        if value is not None
    ]
    if subject is not None:
        edition.subject = check_subject(subject)
    if intro is not None:
        edition.intro = check_intro(intro)
    if preheader is not None:
        edition.preheader = check_preheader(preheader)
    if translations is not None:
        edition.translations = check_translations(
            translations, current=edition.translations, main=edition.locale
        )
    kept = {link.item_id: link.heading for link in edition.items if link.heading}
    ids = list(item_ids) if item_ids is not None else [link.item_id for link in edition.items]
    titles = check_headings(
        kept if headings is None else headings,
        main=edition.locale or i18n.DEFAULT_LOCALE,
        languages=list(edition.translations),
        item_ids=ids if headings is not None else (),
    )
    if item_ids is not None or headings is not None or titles != kept:
        _set_items(session, edition, items_by_ids(session, ids), titles)
    if send_whole is not None:
        edition.send_whole = send_whole
    if topics is not None:
        audience = {k: v for k, v in (edition.audience or {}).items() if k != "topics"}
        slugs = _topic_slugs(session, topics)
        edition.audience = {**audience, "topics": slugs} if slugs else audience
    edition.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        "edition.edited",
        object_type="edition",
        object_id=edition.id,
        summary={"changed": changed},
    )
    return edition


def list_editions(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Edition]:
    """Newest first."""
    query = select(Edition)
    if kind is not None:
        query = query.where(Edition.kind == kind)
    if status is not None:
        query = query.where(Edition.status == status)
    if before_id is not None:
        query = query.where(Edition.id < before_id)
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
            "translations": {
                lang: dict(texts) for lang, texts in sorted((edition.translations or {}).items())
            },
            "status_reason": edition.status_reason,
            "send_whole": edition.send_whole,
            "started_at": _iso(edition.started_at),
            "finished_at": _iso(edition.finished_at),
            "recipients": edition.recipients_total,
            "items": [
                {
                    "position": link.position,
                    **content_items.item_as_dict(link.item),
                    "heading": dict(link.heading) if link.heading else None,
                }
                for link in sorted(edition.items, key=lambda link: link.position)
            ],
        }
    )
    return data


def parse_since(text: str, *, timezone: str = "Europe/Paris") -> datetime:
    """``2026-11-01`` (midnight) or ``2026-11-01 09:00`` in `timezone`, or with an offset."""
    try:
        return i18n.parse_local(text, timezone=timezone)
    except ValueError as error:
        raise DraftError(str(error)) from error
