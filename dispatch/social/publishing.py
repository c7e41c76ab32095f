"""Publishing one post: claim it with a lease, call the network outside any transaction, record.

A post goes scheduled → publishing (with `lease_until`) → published | failed, or back to
scheduled with `next_attempt_at` after a transient error. A post still `publishing` when its
lease has expired was interrupted mid-call: it is claimed again and the publisher looks for
what the first try may have posted before posting, so nothing goes out twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.content.fetch import FetchError, FetchPolicy, fetch
from dispatch.db import is_sqlite, utcnow
from dispatch.social import accounts, desk, service
from dispatch.social.crypto import CredentialError
from dispatch.social.models import SocialAccount, SocialPost
from dispatch.social.networks.base import (
    PermanentError,
    Published,
    TransientError,
    image_mime_type,
    publish_once,
)
from dispatch.social.render import RenderError

log = logging.getLogger(__name__)

Scope = Callable[[], AbstractContextManager[Session]]

# Longer than a publish can take (the task's time limit is 10 minutes), so a live publish is
# never claimed twice; short enough that an interrupted one is retried soon.
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 8  # claims that ended in a transient error before the post is marked failed
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
# Retries inside one claim, for blips; longer waits go back to the schedule.
CALL_ATTEMPTS = 4
CALL_BASE_DELAY = 2.0
CALL_MAX_DELAY = 60.0


@dataclass(frozen=True)
class Outcome:
    """What one publish attempt did, for the CLI and the logs."""

    post_id: int
    status: str  # the post's status afterwards
    message: str = ""
    remote_url: str | None = None

    @property
    def published(self) -> bool:
        return self.status == "published"


@dataclass(frozen=True)
class _Claim:
    account_id: int
    network: str
    idempotency_key: str
    uncertain: bool


def due_post_ids(session: Session, *, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Posts to publish now: scheduled and due, or left `publishing` with an expired lease,
    and released by the editorial desk."""
    now = now or utcnow()
    rows = [
        (row.id, row.item_id, row.account_id)
        for row in session.execute(
            select(SocialPost.id, SocialPost.item_id, SocialPost.account_id)
            .where(_claimable(now, force=False), _account_enabled())
            .order_by(SocialPost.scheduled_at, SocialPost.id)
            # Posts waiting on the desk are read and set aside: read more than one batch.
            .limit(limit * 4)
        )
    ]
    allowed = desk.releasable(session, rows)
    return [post_id for post_id, _, _ in rows if post_id in allowed][:limit]


def _account_enabled() -> ColumnElement[bool]:
    return SocialPost.account_id.in_(select(SocialAccount.id).where(SocialAccount.enabled))


def _claimable(now: datetime, *, force: bool) -> ColumnElement[bool]:
    interrupted = and_(SocialPost.status == "publishing", SocialPost.lease_until < now)
    if force:  # staff said "now": the schedule and the retry backoff do not hold it back
        return or_(SocialPost.status == "scheduled", interrupted)
    due = and_(
        SocialPost.status == "scheduled",
        SocialPost.scheduled_at <= now,
        or_(SocialPost.next_attempt_at.is_(None), SocialPost.next_attempt_at <= now),
    )
    return or_(due, interrupted)


def claim_post(
    session: Session,
    post_id: int,
    *,
    now: datetime | None = None,
    force: bool = False,
    lease: timedelta = LEASE,
) -> bool | None:
    """Claim a due post for `lease`: None if it is not claimable, else whether an earlier try
    may already have posted it (the lease expired mid-call, or an earlier claim erred)."""
    now = now or utcnow()
    query = select(SocialPost.status, SocialPost.attempts).where(
        SocialPost.id == post_id, _claimable(now, force=force), _account_enabled()
    )
    if not is_sqlite(session.get_bind()):  # type: ignore[arg-type]
        # Of two workers, one takes the row and the other moves on; SQLite has one writer.
        query = query.with_for_update(skip_locked=True, of=SocialPost)
    row = session.execute(query).first()
    if row is None:
        return None
    post = session.get(SocialPost, post_id)
    if not force and post is not None and desk.state_of(session, post) != "released":
        return None  # waiting on the editorial desk (staff's "publish now" is a release)
    session.execute(
        update(SocialPost)
        .where(SocialPost.id == post_id)
        .values(status="publishing", lease_until=now + lease, attempts=SocialPost.attempts + 1)
    )
    session.flush()
    return bool(row.status == "publishing" or row.attempts > 0)


def publish_post(
    post_id: int,
    *,
    settings: Settings,
    scope: Scope,
    force: bool = False,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Publish one post if it is due (or at once with `force`) and record what happened."""
    notes: list[str] = []
    with scope() as session:
        uncertain = claim_post(session, post_id, force=force)
        if uncertain is None:
            return _not_claimed(session, post_id)
        post = session.get(SocialPost, post_id, populate_existing=True)
        assert post is not None  # just claimed
        if post.item is not None and post.item.status != "published":
            post.status, post.lease_until = "cancelled", None
            post.last_error = "the item was unpublished upstream"
            return Outcome(post_id, "cancelled", post.last_error)
        claim = _Claim(post.account_id, post.account.network, post.idempotency_key, uncertain)
        try:
            loader = (
                image_loader(post.item.image_url, settings, notes)
                if post.item is not None and post.item.image_url
                else None
            )
            rendered = service.rendered(session, post, settings, image_loader=loader)
            publisher = accounts.publisher_for(
                post.account,
                settings,
                on_linkedin_refresh=_token_keeper(claim.account_id, settings, scope),
                timeout=timeout,
            )
        except (RenderError, service.SocialError, accounts.AccountError) as err:
            return _fail(post, str(err))
    # The network call holds no transaction open: it may take seconds, or time out.
    try:
        published = publish_once(
            publisher,
            rendered,
            idempotency_key=claim.idempotency_key,
            attempts=CALL_ATTEMPTS,
            base_delay=CALL_BASE_DELAY,
            max_delay=CALL_MAX_DELAY,
            uncertain=claim.uncertain,
            sleep=sleep,
        )
    except TransientError as err:
        return _record_retry(scope, post_id, err.message, retry_after=err.retry_after)
    except PermanentError as err:
        return _record_failure(scope, post_id, err.message)
    except Exception as err:  # a bug or an unmapped library error: keep it on the row, retry
        log.exception("social post %s: unexpected error while publishing", post_id)
        return _record_retry(scope, post_id, f"unexpected error: {type(err).__name__}: {err}")
    return _record_published(scope, post_id, published, notes)


def image_loader(url: str, settings: Settings, notes: list[str]) -> Callable[[], bytes]:
    """Fetches the item's image (SSRF-guarded, size-capped) only when a publisher reads it.

    A missing or unusable image leaves the post without one, with a note: never a failure.
    """
    cached: list[bytes] = []

    def load() -> bytes:
        if cached:
            return cached[0]
        data = b""
        try:
            data = fetch(url, policy=FetchPolicy.from_settings(settings.content)).body
            image_mime_type(data)
        except (FetchError, PermanentError) as err:
            reason = err.message
            log.warning("image %s left out: %s", url, reason)
            notes.append(f"published without its image ({reason})")
            data = b""
        cached.append(data)
        return data

    return load


# --- recording ----------------------------------------------------------------------------


def _not_claimed(session: Session, post_id: int) -> Outcome:
    post = session.get(SocialPost, post_id)
    if post is None:
        return Outcome(post_id, "missing", f"there is no social post {post_id}")
    if not post.account.enabled:
        why = f"its account {post.account.name} is disabled"
    elif desk.state_of(session, post) != "released":
        why = "its item waits on the editorial desk"
    elif post.status == "publishing":
        why = "another worker is publishing it"
    elif post.status == "scheduled":
        when = post.next_attempt_at or post.scheduled_at
        why = f"it is scheduled for {when.isoformat() if when else 'later'}"
    else:
        why = f"it is {post.status}"
    return Outcome(post_id, post.status, f"post {post_id} was not published: {why}")


def _fail(post: SocialPost, message: str) -> Outcome:
    post.status = "failed"
    post.lease_until = None
    post.next_attempt_at = None
    post.last_error = message
    log.warning("social post %s failed: %s", post.id, message)
    return Outcome(post.id, "failed", message)


def _record_failure(scope: Scope, post_id: int, message: str) -> Outcome:
    with scope() as session:
        post = session.get(SocialPost, post_id)
        if post is None:
            return Outcome(post_id, "missing", message)
        return _fail(post, message)


def retry_delay(attempt: int, retry_after: float | None = None) -> timedelta:
    """Wait before the next claim: doubling from a minute, capped, at least Retry-After."""
    backoff = min(RETRY_BASE * (2 ** max(attempt - 1, 0)), RETRY_MAX)
    if retry_after is not None:
        backoff = max(backoff, timedelta(seconds=retry_after))
    return backoff


def _record_retry(
    scope: Scope, post_id: int, message: str, *, retry_after: float | None = None
) -> Outcome:
    with scope() as session:
        post = session.get(SocialPost, post_id)
        if post is None:
            return Outcome(post_id, "missing", message)
        if post.status != "publishing":
            return Outcome(post_id, post.status, message)
        if post.attempts >= MAX_ATTEMPTS:
            return _fail(post, f"gave up after {post.attempts} attempts: {message}")
        now = utcnow()
        post.status = "scheduled"
        post.lease_until = None
        post.next_attempt_at = now + retry_delay(post.attempts, retry_after)
        post.last_error = (
            f"{message} (attempt {post.attempts} of {MAX_ATTEMPTS}; "
            f"next try at {post.next_attempt_at.isoformat(timespec='seconds')})"
        )
        log.info("social post %s will be retried: %s", post_id, post.last_error)
        return Outcome(post_id, "scheduled", post.last_error)


def _record_published(
    scope: Scope, post_id: int, published: Published, notes: list[str]
) -> Outcome:
    with scope() as session:
        post = session.get(SocialPost, post_id)
        if post is None:
            return Outcome(post_id, "missing", "", published.url)
        post.status = "published"
        post.remote_id = published.remote_id
        post.remote_url = published.url
        post.published_at = utcnow()
        post.lease_until = None
        post.next_attempt_at = None
        post.last_error = "; ".join(notes) or None
        log.info("social post %s published: %s", post_id, published.url)
        return Outcome(post_id, "published", post.last_error or "", published.url)


def _token_keeper(
    account_id: int, settings: Settings, scope: Scope
) -> Callable[[accounts.LinkedInRefresh], None]:
    """Stores a refreshed LinkedIn token, encrypted, as soon as the network hands it over."""

    def keep(refresh: accounts.LinkedInRefresh) -> None:
        try:
            token = accounts.encrypt(settings, refresh.credentials)
        except CredentialError:
            # Without a key the new token lives only for this publish; the next one refreshes
            # again with the refresh token from the environment.
            log.warning(
                "social account %s: the refreshed LinkedIn token cannot be stored; set "
                "DISPATCH_SOCIAL__CREDENTIALS_KEY to keep it",
                account_id,
            )
            return
        with scope() as session:
            session.execute(
                update(SocialAccount)
                .where(SocialAccount.id == account_id)
                .values(credentials=token, token_expires_at=refresh.expires_at)
            )
        log.info("social account %s: LinkedIn token refreshed and stored", account_id)

    return keep
