"""What the API reads and writes: pydantic models, the OpenAPI document's schemas.

Times are ISO 8601 with their offset (UTC as stored); inputs without an offset are refused
rather than guessed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
)

_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: Any) -> Any:
    # pydantic would read a number as seconds since 1970: a time here is ISO 8601 text.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE_TIME.match(value)):
        return value
    raise ValueError("a time is ISO 8601 text with its offset, like 2026-12-08T09:00:00+01:00")


#: A row id a client sends (32-bit, as PostgreSQL stores it).
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
#: A time a client sends: ISO 8601 text with its offset.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), Strict(False)]
Frequency = Literal["immediately", "weekly", "monthly"]
Language = Literal["fr", "en"]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class In(BaseModel):
    # Strict: `"enabled": 0` or `"interval_minutes": "15"` is a client's mistake to hear about.
    model_config = ConfigDict(extra="forbid", strict=True)


# --- content ---------------------------------------------------------------------------------


class TopicOut(Out):
    slug: str
    name_fr: str
    name_en: str
    hashtag: str | None


class TopicIn(In):
    slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    name_fr: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    hashtag: str | None = Field(default=None, max_length=100)


class SourceOut(Out):
    id: int
    kind: str
    url: str
    name: str
    enabled: bool
    topics: list[str]
    interval_minutes: int
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    last_status: str | None
    last_result: str | None
    last_error: str | None
    consecutive_failures: int


class SourceIn(In):
    url: str = Field(min_length=1, max_length=2000)
    kind: Literal["rss", "atom", "wordpress", "ical"]
    topics: list[str] = Field(default_factory=list, max_length=20)
    interval_minutes: int = Field(default=15, ge=1, le=10080)
    name: str = Field(default="", max_length=200)
    announce_existing: bool = False


class SourcePatch(In):
    enabled: bool


class PollOut(Out):
    source_id: int
    queued: bool


class ItemSourceOut(Out):
    """One source that lists the item: the same post from a site's feed and its REST API is
    one item with two of these, the first source first."""

    source_id: int
    kind: str
    source_url: str
    guid: str
    url: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime


class ItemOut(Out):
    id: int
    kind: str
    status: str
    title: str
    url: str
    excerpt: str
    image_url: str | None
    image_alt: str | None
    tag: str | None
    comment: str | None
    topics: list[str]
    published_at: datetime | None
    event_start: datetime | None
    event_end: datetime | None
    all_day: bool
    location: str | None
    source_id: int
    sources: list[ItemSourceOut] = Field(default_factory=list)


class PickIn(In):
    url: str = Field(min_length=1, max_length=2000)
    title: str = Field(min_length=1, max_length=1000)
    tag: str = Field(min_length=1, max_length=64)
    comment: str = Field(default="", max_length=5000)


# --- editions --------------------------------------------------------------------------------


class EditionItemOut(Out):
    position: int
    id: int
    kind: str
    title: str
    url: str
    readers: int = Field(
        description="Readers who will get this item in this edition (who got it, once "
        "started): its audience, less those who already received it elsewhere."
    )
    heading: dict[str, str] | None = Field(
        default=None, description="The title, per language, of the section this item opens."
    )


class TranslationIn(In):
    """An edition's text in another language; a translation exists when it has a subject."""

    subject: str | None = Field(default=None, max_length=200)
    preheader: str | None = Field(default=None, max_length=200)
    intro: str | None = Field(default=None, max_length=20_000)


class TranslationOut(Out):
    subject: str
    preheader: str
    intro: str


class EditionOut(Out):
    id: int
    kind: str
    status: str
    subject: str
    locale: str | None
    audience: dict[str, Any]
    send_at: datetime | None
    created_at: datetime | None
    template: str
    preheader: str
    intro: str
    translations: dict[str, TranslationOut] = Field(
        default_factory=dict,
        description="The same edition in other languages (e.g. `en`); readers of a language "
        "without one get the whole edition in its main language.",
    )
    status_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    send_whole: bool = Field(
        description="Every item to everyone; false: each reader's copy leaves out the items "
        "they already received (a reader with nothing new is not sent it)."
    )
    items: list[EditionItemOut]


class EditionSummary(Out):
    id: int
    kind: str
    status: str
    subject: str
    locale: str | None
    items: int
    audience: dict[str, Any]
    send_at: datetime | None
    created_at: datetime | None


#: An item's id as a JSON object's key.
ItemKey = Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]


class EditionIn(In):
    subject: str = Field(min_length=1, max_length=200)
    intro: str = Field(default="", max_length=20_000)
    preheader: str = Field(default="", max_length=200)
    items: list[RowId] | None = Field(
        default=None, max_length=60, description="Item ids in order; default: recent items."
    )
    since: Instant | None = Field(
        default=None, description="Without `items`: the items published since then."
    )
    kind: Literal["newsletter", "alert"] = "newsletter"
    topics: list[str] = Field(default_factory=list, max_length=20)
    locale: Language | None = None
    send_whole: bool = False
    translations: dict[Language, TranslationIn] = Field(
        default_factory=dict, description="Subject, preheader and intro in other languages."
    )
    headings: dict[ItemKey, dict[Language, Annotated[str, Field(max_length=120)]]] | None = Field(
        default=None,
        description="Sections: item id -> the title, per language, of the section that item "
        "opens (the items after it are in it until the next title). In the edition's "
        "language and in each of its translations.",
    )


class EditionPatch(In):
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    intro: str | None = Field(default=None, max_length=20_000)
    preheader: str | None = Field(default=None, max_length=200)
    items: list[RowId] | None = Field(default=None, min_length=1, max_length=60)
    send_whole: bool | None = None
    translations: dict[Language, TranslationIn | None] | None = Field(
        default=None,
        description="Per language: the fields given change, the others stay; null removes "
        "that language.",
    )
    topics: list[str] | None = Field(
        default=None,
        max_length=20,
        description="The topics whose readers get it (replaces them); [] for every reader.",
    )
    headings: dict[ItemKey, dict[Language, Annotated[str, Field(max_length=120)]]] | None = Field(
        default=None,
        description="Sections, replacing them all: item id -> the title, per language, of "
        "the section that item opens (the items after it are in it until the next title). In "
        "the edition's language and in each of its translations.",
    )


class DigestIn(In):
    period: Literal["weekly", "monthly"]
    at: Instant | None = Field(default=None, description="As if it were then; default: now.")


class DigestReaderOut(Out):
    subscriber_id: int
    email: str
    items: list[int]


class DigestItemOut(Out):
    id: int
    title: str
    topics: list[str]


class DigestOut(Out):
    period: str
    key: str
    since: datetime
    until: datetime
    existing_edition: int | None
    created_edition: int | None
    dry_run: bool
    items: list[DigestItemOut]
    readers: int
    receiving: int
    nothing_new: int
    per_reader: list[DigestReaderOut]


class ScheduleIn(In):
    send_at: Instant


class ProofIn(In):
    to: list[str] = Field(min_length=1, max_length=10)
    locale: Language | None = Field(
        default=None,
        description="As a reader of this language gets it; default: each address's own.",
    )


class ProofOut(Out):
    address: str
    ok: bool
    detail: str


class PreviewOut(Out):
    edition_id: int
    locale: str
    subject: str
    recipient: str
    html: str
    text: str


class StatusOut(Out):
    id: int
    subject: str
    status: str
    status_reason: str | None
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    counts: dict[str, int]
    done: int
    progress: float
    rate_per_second: float
    estimated_end: datetime | None


# --- subscribers -----------------------------------------------------------------------------


class SubscriberOut(Out):
    id: int
    email: str
    name: str
    language: str
    status: str
    topics: dict[str, str]
    letter: bool = True
    created_at: datetime | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    paused_until: datetime | None
    last_engagement_at: datetime | None
    consent_version: str | None
    soft_bounces: int


class ConsentOut(Out):
    at: datetime
    action: str
    details: dict[str, Any]
    source: str
    consent_version: str | None
    ip: str | None
    user_agent: str | None


class SubscriberDetail(SubscriberOut):
    suppressed: str | None
    consent_history: list[ConsentOut]


class SubscriberIn(In):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    language: Language = "fr"
    topics: dict[str, Frequency] = Field(default_factory=dict)
    consent_source: str = Field(
        min_length=1, max_length=200, description="Where the person agreed, e.g. a sign-up sheet."
    )
    welcome: bool = Field(default=False, description="Send them the welcome email.")


class ImportNote(Out):
    line: int
    email: str
    reason: str


class ImportOut(Out):
    added: list[str]
    skipped: list[ImportNote]
    errors: list[ImportNote]
    dry_run: bool


class ErasedOut(Out):
    found: bool


# --- social ----------------------------------------------------------------------------------


class AccountOut(Out):
    id: int
    network: str
    name: str
    base_url: str
    handle: str
    mode: str
    delay_minutes: int
    language: str
    enabled: bool
    topics: list[str]
    credentials: str
    publishes_to: str
    token_expires_at: datetime | None


class PostOut(Out):
    id: int
    account_id: int
    account: str
    network: str
    item_id: int | None
    edition_id: int | None
    status: str
    text: str
    length: int
    limit: int | None
    scheduled_at: datetime | None
    next_attempt_at: datetime | None
    attempts: int
    remote_id: str | None
    remote_url: str | None
    last_error: str | None
    approved_by: str | None
    approved_at: datetime | None
    published_at: datetime | None
    created_at: datetime | None


class PostPatch(In):
    text: str = Field(min_length=1, max_length=10_000)


class PostScheduleIn(In):
    at: Instant


# --- bounces, audit, staff -------------------------------------------------------------------


class BounceOut(Out):
    id: int
    kind: str
    status_code: str | None
    diagnostic: str | None
    delivery_id: int | None
    subscriber_id: int | None
    received_at: datetime


class HeldReportOut(Out):
    """Returned mail that proved no delivery: it changed nobody until staff decide."""

    id: int
    kind: str
    recipients: list[str]
    status_code: str | None
    diagnostic: str | None
    feedback_type: str | None
    origin: str
    reason: str
    received_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    outcome: str | None

    @field_validator("recipients", mode="before")
    @classmethod
    def _lines(cls, value: object) -> object:
        return [a for a in value.split("\n") if a] if isinstance(value, str) else value


class HealthOut(BaseModel):
    """What `/healthz` keeps to itself: which dependency fails, its error, the heartbeats."""

    status: str
    database: dict[str, Any]
    broker: dict[str, Any]
    heartbeats: dict[str, str] = {}


class AuditOut(Out):
    id: int
    at: datetime
    actor: str
    role: str | None
    via: str
    action: str
    object_type: str | None
    object_id: str | None
    summary: dict[str, Any]
    ip: str | None


class StaffOut(Out):
    id: int
    email: str
    name: str
    language: str
    role: str
    active: bool
    two_factor: bool
    password_set: bool
    created_at: datetime | None
    last_login_at: datetime | None


class StaffIn(In):
    email: str = Field(min_length=3, max_length=320)
    role: Literal["owner", "editor", "author", "viewer"]
    name: str = Field(default="", max_length=200)
    language: Language = "fr"


class StaffPatch(In):
    role: Literal["owner", "editor", "author", "viewer"] | None = None
    active: bool | None = None


class InvitedOut(Out):
    staff: StaffOut
    link_sent: bool


class TokenOut(Out):
    id: int
    name: str
    owner: str
    prefix: str
    scope: str
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
