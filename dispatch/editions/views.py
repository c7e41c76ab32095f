"""What an email is made from: plain, frozen view models, independent of the database.

Services build these from rows (editions, items, subscribers, settings) and hand them to
`dispatch.editions.compose`; templates only ever see these objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

EditionKind = Literal[
    "newsletter",
    "alert",
    "digest",
    "event",
    "confirm",
    "welcome",
    "preferences-link",
    "staff-invite",
    "staff-reset",
]
ItemKind = Literal["post", "event", "pick"]
PickTag = Literal["onaime", "controverse", "mustread", ""]

EDITION_KINDS: tuple[str, ...] = (
    "newsletter",
    "alert",
    "digest",
    "event",
    "confirm",
    "welcome",
    "preferences-link",
    "staff-invite",
    "staff-reset",
)
#: Sent to one person because they asked for it: no List-Unsubscribe, no List-Id.
TRANSACTIONAL_KINDS: frozenset[str] = frozenset(
    {"confirm", "preferences-link", "staff-invite", "staff-reset"}
)
#: The order picks are shown in, by tag.
PICK_TAGS: tuple[str, ...] = ("onaime", "controverse", "mustread")


@dataclass(frozen=True, slots=True)
class Branding:
    """Who sends: the organisation's name, look and addresses (from settings).

    `list_id_domain` names the list in `List-Id` (e.g. ``newsletter.la27eregion.fr``).
    Colours are ``#rrggbb``; templates darken `primary_colour` for links when it would not
    reach WCAG AA contrast on white, and pick white or black button text by contrast.
    """

    org_name: str
    from_address: str
    postal_address: str
    site_url: str
    list_id_domain: str
    from_name: str = ""
    reply_to: str = ""
    logo_url: str = ""
    logo_alt: str = ""
    primary_colour: str = "#1d4e89"
    text_colour: str = "#1a1a1a"

    @property
    def sender_name(self) -> str:
        return self.from_name or self.org_name


@dataclass(frozen=True, slots=True)
class ItemView:
    """One content item as an email shows it.

    `summary_html` is sanitised HTML (compose sanitises it again, cheaply, once per
    edition); `excerpt` is plain text. Event times are aware datetimes (naive means UTC);
    for `all_day` events `event_end` is exclusive, as in iCalendar. `tag` and `comment`
    are for picks: the curated stream's tag and the staff's note on why it was chosen.
    `ics_url` is the event's calendar file online ("Ajouter à mon agenda"). An event may
    carry its zone (`event_timezone`), where to join online or register, its organiser and
    cost; `cancelled` and `sequence` (the calendar SEQUENCE) say where it stands, and
    `modified_at` when it last changed (the calendar file's DTSTAMP).
    """

    id: int | str
    kind: ItemKind
    title: str
    url: str
    summary_html: str = ""
    excerpt: str = ""
    image_url: str = ""
    image_alt: str = ""
    published_at: datetime | None = None
    topics: tuple[str, ...] = ()
    tag: PickTag = ""
    comment: str = ""
    event_start: datetime | None = None
    event_end: datetime | None = None
    all_day: bool = False
    location: str = ""
    ics_url: str = ""
    event_timezone: str = ""
    online_url: str = ""
    registration_url: str = ""
    organiser: str = ""
    cost: str = ""
    cancelled: bool = False
    sequence: int = 0
    modified_at: datetime | None = None
    # In a staff letter with sections: the title of the section this item is in.
    section: str = ""


EventPhase = Literal["announcement", "reminder", "changed", "cancelled"]
EVENT_PHASES: tuple[str, ...] = ("announcement", "reminder", "changed", "cancelled")


def _empty_names() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class EditionView:
    """One email to compose, in one language.

    `subject` and `intro_html` are staff-written: the subject is plain text shown as data
    (Jinja syntax in it stays literal), `intro_html` is Markdown already converted and
    sanitised. `topic_names` maps topic slugs to their names in `locale` (digest section
    titles). `digest_period` is "weekly" or "monthly" for digests; `event_phase` is
    "announcement", "reminder", "changed" or "cancelled" for event emails, with
    `reminder_days` (how long before) for reminders and `event_before` (the event as readers
    last heard of it) for changes. `key` identifies the edition in Message-IDs (e.g.
    ``"edition-42"``). `archive` compiles the online version (no greeting, no reader's
    address or personal links; `subscribe_url` in their place).
    """

    kind: EditionKind
    subject: str
    locale: str = "fr"
    intro_html: str = ""
    preheader: str = ""
    items: tuple[ItemView, ...] = ()
    topic_names: Mapping[str, str] = field(default_factory=_empty_names)
    key: str = ""
    digest_period: Literal["weekly", "monthly", ""] = ""
    event_phase: EventPhase = "announcement"
    web_url: str = ""
    reminder_days: int = 0
    event_before: ItemView | None = None
    # Each reader sees only the items of the topics they follow (digests; alerts that name
    # their topics), compiled once per distinct topic set.
    per_topic: bool = False
    archive: bool = False
    subscribe_url: str = ""


@dataclass(frozen=True, slots=True)
class RecipientView:
    """One reader of an edition: only what differs from one message to the next.

    The URLs are already signed by the audience domain. `topics` (slugs) chooses the
    sections of a digest (and the items of a per-topic alert); `left_out` names items the
    reader already has; `confirm_url` is for the confirm email. `unsubscribe_mailto`
    (``mailto:…``) goes into `List-Unsubscribe` next to the one-click URL.
    """

    email: str
    name: str = ""
    locale: str = "fr"
    unsubscribe_url: str = ""
    preferences_url: str = ""
    topics: frozenset[str] = frozenset()
    confirm_url: str = ""
    unsubscribe_mailto: str = ""
    # Items of this edition the reader already received elsewhere: left out of their copy.
    left_out: frozenset[int] = frozenset()
