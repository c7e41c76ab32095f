"""Social accounts and the posts prepared for them: creating, editing, approving, scheduling.

Functions take a session first and flush; the boundary commits. Publishing itself (network
calls outside any transaction) lives in `dispatch.social.publishing`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.config import Settings
from dispatch.content import topics as content_topics
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem
from dispatch.content.publications import acknowledge, pending_publications
from dispatch.db import utcnow
from dispatch.editions.models import Edition
from dispatch.editions.service import archive_url
from dispatch.social import accounts as creds
from dispatch.social import counting
from dispatch.social import desk as social_desk
from dispatch.social.crypto import CredentialError
from dispatch.social.models import SocialAccount, SocialPost
from dispatch.social.render import (
    KINDS,
    NETWORKS,
    RenderedPost,
    RenderError,
    SocialContent,
    from_text,
    render,
)

log = logging.getLogger(__name__)

MODES = ("automatic", "approval", "off")
LANGUAGES = ("fr", "en")
EDITABLE = ("draft", "awaiting_approval", "scheduled", "failed")
APPROVABLE = ("draft", "awaiting_approval", "scheduled", "failed")
CANCELLABLE = ("draft", "awaiting_approval", "scheduled", "failed")
ANNOUNCEABLE_EDITIONS = ("sending", "sent")
#: Posts not gone out yet, which an item leaving the site cancels.
PENDING_STATUSES = ("draft", "awaiting_approval", "scheduled")
CONSUMER = "social"


class SocialError(ValueError):
    """A staff request that cannot be done; the message says why."""


# --- accounts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    """What staff say about a new account; secrets are only kept encrypted (or in the env)."""

    network: str
    name: str
    base_url: str = ""
    handle: str = ""
    mode: str = "approval"
    delay_minutes: int = 0
    language: str = "fr"
    topic_slugs: Iterable[str] = ()
    credentials_env: str | None = None
    credentials: Mapping[str, str] | None = field(default=None, repr=False)
    token_expires_at: datetime | None = None


def add_account(session: Session, settings: Settings, spec: AccountSpec) -> SocialAccount:
    """An account posting to `spec.network`."""
    network = spec.network
    if network not in NETWORKS:
        raise SocialError(f"unknown network {network!r} (one of {', '.join(NETWORKS)})")
    if spec.mode not in MODES:
        raise SocialError(f"unknown mode {spec.mode!r} (one of {', '.join(MODES)})")
    if spec.language not in LANGUAGES:
        raise SocialError(f"unknown language {spec.language!r} (fr or en)")
    if spec.delay_minutes < 0:
        raise SocialError("the delay cannot be negative")
    if not spec.name.strip():
        raise SocialError("an account needs a name")
    base_url = spec.base_url.strip().rstrip("/")
    handle = spec.handle.strip()
    if base_url and not base_url.startswith(("https://", "http://")):
        raise SocialError(f"{base_url!r} is not an http(s) URL")
    if network == "mastodon" and not base_url:
        raise SocialError("a Mastodon account needs its instance URL (--url https://…)")
    if network == "bluesky" and not handle:
        raise SocialError("a Bluesky account needs its handle (--handle name.bsky.social)")
    if network == "linkedin" and not _is_organization(handle):
        raise SocialError(
            "a LinkedIn account needs the organisation's id (--handle 2414183 or "
            "urn:li:organization:2414183)"
        )
    try:
        topics = content_topics.topics_by_slug(session, spec.topic_slugs)
    except ContentError as err:
        raise SocialError(str(err)) from err
    account = SocialAccount(
        network=network,
        name=spec.name.strip(),
        base_url=base_url,
        handle=handle,
        mode=spec.mode,
        delay_minutes=spec.delay_minutes,
        language=spec.language,
        token_expires_at=spec.token_expires_at,
    )
    try:
        if spec.credentials_env:
            account.credentials_env = creds.check_env_prefix(spec.credentials_env)
        if spec.credentials:
            secrets = {k: v.strip() for k, v in spec.credentials.items() if v and v.strip()}
            unknown = set(secrets) - set(creds.CREDENTIAL_FIELDS[network])
            if unknown:
                raise SocialError(f"{network} has no credential named {', '.join(sorted(unknown))}")
            missing = [f for f in creds.REQUIRED_FIELDS[network] if f not in secrets]
            if missing and not spec.credentials_env:
                raise SocialError(f"missing {', '.join(missing)} for {network}")
            account.credentials = creds.encrypt(settings, secrets)
    except (creds.AccountError, CredentialError) as err:
        raise SocialError(str(err)) from err
    account.topics = topics
    session.add(account)
    session.flush()
    log.info("social account %s added: %s %s", account.id, network, account.name)
    return account


def _is_organization(handle: str) -> bool:
    return handle.isdigit() or (
        handle.startswith("urn:li:organization:") and handle.rsplit(":", 1)[1].isdigit()
    )


def list_accounts(session: Session) -> list[SocialAccount]:
    return list(session.scalars(select(SocialAccount).order_by(SocialAccount.id)))


def get_account(session: Session, account_id: int) -> SocialAccount:
    account = session.get(SocialAccount, account_id)
    if account is None:
        raise SocialError(f"there is no social account {account_id}")
    return account


def set_account_enabled(session: Session, account_id: int, *, enabled: bool) -> SocialAccount:
    """Disabling stops new posts for the account and holds its queued ones."""
    account = get_account(session, account_id)
    account.enabled = enabled
    session.flush()
    return account


def account_as_dict(account: SocialAccount, settings: Settings) -> dict[str, Any]:
    """What staff may see about an account: never a credential."""
    return {
        "id": account.id,
        "network": account.network,
        "name": account.name,
        "base_url": account.base_url,
        "handle": account.handle,
        "mode": account.mode,
        "delay_minutes": account.delay_minutes,
        "language": account.language,
        "enabled": account.enabled,
        "topics": [t.slug for t in account.topics],
        "credentials": creds.credentials_source(account),
        "publishes_to": creds.target(account, settings),
        "token_expires_at": _iso(account.token_expires_at),
    }


# --- content for a post -------------------------------------------------------------------


def content_for_item(
    item: ContentItem,
    *,
    language: str,
    settings: Settings,
    image_loader: Callable[[], bytes] | None = None,
) -> SocialContent:
    kind = item.kind if item.kind in KINDS else "post"
    return SocialContent(
        kind=kind,
        title=item.title,
        url=item.url,
        excerpt=item.excerpt or "",
        image_url=item.image_url or "",
        image_alt=item.image_alt or "",
        image_loader=image_loader if item.image_url else None,
        topics=tuple(t.slug for t in item.topics),
        hashtags={t.slug: t.hashtag for t in item.topics if t.hashtag},
        language="en" if language == "en" else "fr",
        event_start=item.event_start,
        event_end=item.event_end,
        all_day=item.all_day,
        event_timezone=item.event_timezone or "",
        event_location=item.location or "",
        timezone=settings.app.timezone,
        pick_comment=item.comment or "",
        pick_tag=item.tag or "",
        site_name=settings.branding.org_name,
    )


def edition_url(settings: Settings, edition: Edition) -> str:
    """Where an edition can be read online (the public archive)."""
    return archive_url(settings.app.base_url, edition.id, edition.locale or "fr")


def content_for_edition(
    session: Session, edition: Edition, *, language: str, settings: Settings
) -> SocialContent:
    slugs = [str(s) for s in (edition.audience or {}).get("topics") or []]
    topics = content_topics.topics_by_slug(session, slugs) if slugs else []
    return SocialContent(
        kind="edition",
        title=edition.subject,
        url=edition_url(settings, edition),
        excerpt=edition.preheader or "",
        topics=tuple(t.slug for t in topics),
        hashtags={t.slug: t.hashtag for t in topics if t.hashtag},
        language="en" if language == "en" else "fr",
        timezone=settings.app.timezone,
        site_name=settings.branding.org_name,
    )


def content_for_post(
    session: Session,
    post: SocialPost,
    settings: Settings,
    *,
    image_loader: Callable[[], bytes] | None = None,
) -> SocialContent:
    language = post.account.language
    if post.item is not None:
        return content_for_item(
            post.item, language=language, settings=settings, image_loader=image_loader
        )
    if post.edition_id is not None:
        edition = session.get(Edition, post.edition_id)
        if edition is not None:
            return content_for_edition(session, edition, language=language, settings=settings)
    raise SocialError(f"post {post.id} is about nothing that still exists")


def rendered(
    session: Session,
    post: SocialPost,
    settings: Settings,
    *,
    image_loader: Callable[[], bytes] | None = None,
) -> RenderedPost:
    """The post as it will go out: its (possibly edited) text, with facets, card and image.

    Bluesky derives its record key from the post's creation time, so it is passed every time.
    """
    social = content_for_post(session, post, settings, image_loader=image_loader)
    return from_text(post.account.network, post.text, social, created_at=post.created_at)


# --- creating posts -----------------------------------------------------------------------


def wants(account: SocialAccount, item: ContentItem) -> bool:
    """An active account posts about an item if their topics meet (no topics: everything)."""
    if not account.enabled or account.mode == "off":
        return False
    if not account.topics:
        return True
    return bool({t.id for t in account.topics} & {t.id for t in item.topics})


def _new_post(
    session: Session,
    account: SocialAccount,
    social: SocialContent,
    *,
    now: datetime,
    item_id: int | None = None,
    edition_id: int | None = None,
    approve: bool = False,
) -> SocialPost | None:
    """One post for (account, item or edition), or None if it already exists."""
    post = SocialPost(
        account_id=account.id,
        item_id=item_id,
        edition_id=edition_id,
        idempotency_key=f"dispatch-social-{uuid.uuid4().hex}",
        created_at=now,
    )
    try:
        post.text = render(account.network, social, created_at=now).text
    except RenderError as err:
        post.status, post.last_error = "failed", f"cannot prepare the post: {err}"
    else:
        if account.mode == "automatic" or approve:
            post.status = "scheduled"
            post.scheduled_at = now + timedelta(minutes=account.delay_minutes)
            if approve:
                post.approved_at = now
        else:
            post.status = "awaiting_approval"
    try:
        # A savepoint: a concurrent run that made the same post wins, this one steps aside.
        with session.begin_nested():
            session.add(post)
    except IntegrityError:
        return None
    return post


def prepare_item_posts(
    session: Session,
    item: ContentItem,
    settings: Settings,
    *,
    now: datetime | None = None,
    accounts: Sequence[SocialAccount] | None = None,
) -> list[SocialPost]:
    """Posts for every account that wants this item (none for an unpublished item)."""
    if item.status != "published":
        return []
    now = now or utcnow()
    accounts = list_accounts(session) if accounts is None else accounts
    # Accounts that already post about this item, or about the same link: the occurrences
    # of a recurring event are items of their own but one page, announced once.
    existing = set(
        session.scalars(
            select(SocialPost.account_id)
            .join(ContentItem, SocialPost.item_id == ContentItem.id)
            .where(
                or_(ContentItem.id == item.id, ContentItem.url == item.url),
                SocialPost.status != "cancelled",
            )
        )
    )
    posts = []
    for account in accounts:
        if account.id in existing or not wants(account, item):
            continue
        social = content_for_item(item, language=account.language, settings=settings)
        post = _new_post(session, account, social, now=now, item_id=item.id)
        if post is not None:
            posts.append(post)
    return posts


def withdraw_unpublished(session: Session) -> int:
    """Items that left the site leave the social queues too (published posts stay)."""
    result = session.execute(
        update(SocialPost)
        .where(
            SocialPost.status.in_(PENDING_STATUSES),
            SocialPost.item_id.in_(select(ContentItem.id).where(ContentItem.status != "published")),
        )
        .values(status="cancelled", last_error="the item was unpublished upstream")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def consume_publications(
    session: Session, settings: Settings, *, now: datetime | None = None, limit: int = 100
) -> list[SocialPost]:
    """Turn publication events into posts (leaving the social receipt on each), cancel the
    pending posts of items unpublished since, and obey the editorial desk."""
    now = now or utcnow()
    accounts = list_accounts(session)
    created: list[SocialPost] = []
    for event in pending_publications(session, consumer=CONSUMER, limit=limit):
        created += prepare_item_posts(session, event.item, settings, now=now, accounts=accounts)
        # Posts are unique per (account, item): a tick that lost this race made none twice.
        acknowledge(session, [event.id], consumer=CONSUMER, now=now)
    withdraw_unpublished(session)
    social_desk.obey(session, now=now)
    session.flush()
    if created:
        log.info("social: %d post(s) prepared", len(created))
    return created


def announce_edition(
    session: Session,
    edition_id: int,
    settings: Settings,
    *,
    account_ids: Sequence[int] = (),
    approve: bool = False,
    now: datetime | None = None,
) -> list[SocialPost]:
    """ "The newsletter is out": one post per chosen account (default: every active one)."""
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise SocialError(f"there is no edition {edition_id}")
    if edition.status not in ANNOUNCEABLE_EDITIONS:
        raise SocialError(
            f"edition {edition_id} is {edition.status}: announce it once it is being sent"
        )
    now = now or utcnow()
    if account_ids:
        chosen = [get_account(session, i) for i in account_ids]
    else:
        chosen = [a for a in list_accounts(session) if a.enabled and a.mode != "off"]
    if not chosen:
        raise SocialError("no active social account to announce it on")
    posts = []
    for account in chosen:
        social = content_for_edition(session, edition, language=account.language, settings=settings)
        post = _new_post(session, account, social, now=now, edition_id=edition.id, approve=approve)
        if post is not None:
            posts.append(post)
    session.flush()
    return posts


# --- staff actions on posts ---------------------------------------------------------------


def list_posts(
    session: Session,
    *,
    status: str | None = None,
    account_id: int | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[SocialPost]:
    query = select(SocialPost)
    if before_id is not None:
        query = query.where(SocialPost.id < before_id)
    if status is not None:
        query = query.where(SocialPost.status == status)
    if account_id is not None:
        query = query.where(SocialPost.account_id == account_id)
    return list(session.scalars(query.order_by(SocialPost.id.desc()).limit(limit)))


def get_post(session: Session, post_id: int) -> SocialPost:
    post = session.get(SocialPost, post_id)
    if post is None:
        raise SocialError(f"there is no social post {post_id}")
    return post


def edit_post(session: Session, post_id: int, text: str, settings: Settings) -> SocialPost:
    """Replace the text staff will see posted; refused (not cut) if the network would refuse."""
    post = get_post(session, post_id)
    if post.status not in EDITABLE:
        raise SocialError(f"post {post_id} is {post.status}: it can no longer be edited")
    social = content_for_post(session, post, settings)
    try:
        checked = from_text(post.account.network, text, social, created_at=post.created_at)
    except RenderError as err:
        raise SocialError(f"post {post_id}: {err}") from err
    post.text = checked.text
    session.flush()
    _record(session, "social.post_edited", post)
    return post


def approve_post(
    session: Session, post_id: int, *, by: str = "", now: datetime | None = None
) -> SocialPost:
    """Approved posts go out at their scheduled time, or now if none was set."""
    now = now or utcnow()
    post = _schedulable(session, post_id, "approved")
    post.status = "scheduled"
    if post.scheduled_at is None or post.scheduled_at < now:
        post.scheduled_at = now
    _approved(post, by or audit.actor_of(session).label, now)
    social_desk.approve_with_post(session, post)
    session.flush()
    _record(session, "social.post_approved", post)
    return post


def schedule_post(
    session: Session, post_id: int, *, at: datetime, by: str = "", now: datetime | None = None
) -> SocialPost:
    """Publish at `at`; scheduling a post is approving it."""
    now = now or utcnow()
    if at.tzinfo is None:
        raise SocialError("the time needs a timezone")
    if at < now - timedelta(minutes=1):
        raise SocialError(f"{at.isoformat()} has already passed")
    post = _schedulable(session, post_id, "scheduled")
    post.status = "scheduled"
    post.scheduled_at = at
    _approved(post, by or audit.actor_of(session).label, now)
    social_desk.approve_with_post(session, post)
    session.flush()
    _record(session, "social.post_scheduled", post)
    return post


def _schedulable(session: Session, post_id: int, verb: str) -> SocialPost:
    post = get_post(session, post_id)
    if post.status not in APPROVABLE:
        raise SocialError(f"post {post_id} is {post.status}: it cannot be {verb}")
    if post.item is not None and post.item.status != "published":
        raise SocialError(f"post {post_id}: its item was unpublished upstream")
    if not post.text:
        raise SocialError(f"post {post_id} has no text yet: edit it first")
    if social_desk.state_of(session, post) in ("held", "off"):
        raise SocialError(f"post {post_id}: its item is held or switched off on the desk")
    return post


def _approved(post: SocialPost, by: str, now: datetime) -> None:
    post.approved_by = by or None
    post.approved_at = now
    post.next_attempt_at = None
    if post.status != "failed":
        post.last_error = None
    # Staff sent it back to the queue: it gets a fresh set of automatic retries.
    post.attempts = 0


def cancel_post(session: Session, post_id: int) -> SocialPost:
    post = get_post(session, post_id)
    if post.status not in CANCELLABLE:
        raise SocialError(f"post {post_id} is {post.status}: it cannot be cancelled")
    post.status = "cancelled"
    post.scheduled_at = None
    post.next_attempt_at = None
    session.flush()
    _record(session, "social.post_cancelled", post)
    return post


def _record(session: Session, action: str, post: SocialPost) -> None:
    audit.record(
        session,
        action,
        object_type="social_post",
        object_id=post.id,
        summary={
            "account": post.account.name,
            "scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None,
        },
    )


def post_as_dict(post: SocialPost) -> dict[str, Any]:
    network = post.account.network
    return {
        "id": post.id,
        "account_id": post.account_id,
        "account": post.account.name,
        "network": network,
        "item_id": post.item_id,
        "edition_id": post.edition_id,
        "status": post.status,
        "text": post.text,
        "length": counting.length(network, post.text) if post.text else 0,
        "limit": counting.LIMITS[network].maximum if network in counting.LIMITS else None,
        "scheduled_at": _iso(post.scheduled_at),
        "next_attempt_at": _iso(post.next_attempt_at),
        "attempts": post.attempts,
        "remote_id": post.remote_id,
        "remote_url": post.remote_url,
        "last_error": post.last_error,
        "approved_by": post.approved_by,
        "approved_at": _iso(post.approved_at),
        "published_at": _iso(post.published_at),
        "created_at": _iso(post.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
