"""Staff changing the social accounts: adding one, its mode, delay, language and topics,
turning it off and on. Each change is audited in the actor's name; credentials never appear
in the trail (only where they come from).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.config import Settings
from dispatch.content import topics as content_topics
from dispatch.content.errors import ContentError
from dispatch.social import accounts as creds
from dispatch.social import service
from dispatch.social.models import SocialAccount


def _record(session: Session, action: str, account: SocialAccount) -> None:
    audit.record(
        session,
        action,
        object_type="social_account",
        object_id=account.id,
        summary={
            "network": account.network,
            "name": account.name,
            "mode": account.mode,
            "delay_minutes": account.delay_minutes,
            "topics": [t.slug for t in account.topics],
            "enabled": account.enabled,
            "credentials": creds.credentials_source(account),
        },
    )


def add(session: Session, settings: Settings, spec: service.AccountSpec) -> SocialAccount:
    """`service.add_account`, audited."""
    account = service.add_account(session, settings, spec)
    _record(session, "social.account_added", account)
    return account


def change(
    session: Session,
    account_id: int,
    *,
    mode: str,
    delay_minutes: int,
    language: str,
    topic_slugs: Iterable[str],
) -> SocialAccount:
    """How an account takes new items: automatic, after approval, or not at all; how long it
    waits after an item appears; in which language; for which topics (none: every topic)."""
    account = service.get_account(session, account_id)
    if mode not in service.MODES:
        raise service.SocialError(f"unknown mode {mode!r} (one of {', '.join(service.MODES)})")
    if language not in service.LANGUAGES:
        raise service.SocialError(f"unknown language {language!r} (fr or en)")
    if delay_minutes < 0:
        raise service.SocialError("the delay cannot be negative")
    try:
        topics = content_topics.topics_by_slug(session, topic_slugs)
    except ContentError as err:
        raise service.SocialError(str(err)) from err
    account.mode = mode
    account.delay_minutes = delay_minutes
    account.language = language
    account.topics = topics
    session.flush()
    _record(session, "social.account_changed", account)
    return account


def set_enabled(session: Session, account_id: int, *, enabled: bool) -> SocialAccount:
    """`service.set_account_enabled`, audited."""
    account = service.set_account_enabled(session, account_id, enabled=enabled)
    _record(session, "social.account_enabled" if enabled else "social.account_disabled", account)
    return account
