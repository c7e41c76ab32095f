"""Where an account's credentials live and which publisher an account posts through.

Credentials come from the environment (`credentials_env` names a prefix: PREFIX_ACCESS_TOKEN,
PREFIX_APP_PASSWORD…) or are stored encrypted with `social.credentials_key`. An account with
neither writes to the outbox folder in embedded mode; in production it is an error. Secrets
are never logged, printed or put in an exception message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import regex

from dispatch.config import Settings
from dispatch.social.crypto import CredentialCipher, CredentialError
from dispatch.social.models import SocialAccount
from dispatch.social.networks import linkedin
from dispatch.social.networks.base import Publisher
from dispatch.social.networks.outbox import OutboxPublisher

DEFAULT_BLUESKY_PDS = "https://bsky.social"

# Per network: every credential it may use, and those it cannot do without.
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "mastodon": ("access_token",),
    "bluesky": ("app_password",),
    "linkedin": ("access_token", "refresh_token", "client_id", "client_secret"),
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "mastodon": ("access_token",),
    "bluesky": ("app_password",),
    "linkedin": ("access_token",),
}
ENV_PREFIX_PATTERN = regex.compile(r"[A-Z][A-Z0-9_]*")


class AccountError(ValueError):
    """An account cannot publish as configured; the message says what to set."""


@dataclass(frozen=True)
class LinkedInRefresh:
    """A refreshed LinkedIn token, to be stored encrypted on the account."""

    credentials: dict[str, str] = field(repr=False)
    expires_at: datetime | None = None


def env_names(prefix: str, network: str) -> dict[str, str]:
    """The environment variables an account reads, by credential name."""
    prefix = prefix.rstrip("_")
    return {name: f"{prefix}_{name.upper()}" for name in CREDENTIAL_FIELDS[network]}


def check_env_prefix(prefix: str) -> str:
    prefix = prefix.strip().rstrip("_")
    if not ENV_PREFIX_PATTERN.fullmatch(prefix):
        raise AccountError(
            f"{prefix!r} is not a usable environment variable prefix "
            "(capital letters, digits and _, e.g. DISPATCH_MASTODON_LAB)"
        )
    return prefix


def credentials_source(account: SocialAccount) -> str:
    """How the account gets its credentials, for display: never the values."""
    parts = []
    if account.credentials_env:
        names = env_names(account.credentials_env, account.network)
        parts.append("environment (" + ", ".join(names.values()) + ")")
    if account.credentials:
        parts.append("stored encrypted")
    return " + ".join(parts) or "none"


def has_credentials(account: SocialAccount) -> bool:
    return bool(account.credentials_env or account.credentials)


def uses_outbox(account: SocialAccount, settings: Settings) -> bool:
    """Embedded mode's stand-in: an account without credentials writes to the outbox folder."""
    return settings.app.mode == "embedded" and not has_credentials(account)


def target(account: SocialAccount, settings: Settings) -> str:
    """Where the account's posts go: "outbox" or the network's name."""
    return "outbox" if uses_outbox(account, settings) else account.network


def encrypt(settings: Settings, credentials: Mapping[str, str]) -> bytes:
    return CredentialCipher.from_setting(settings.social.credentials_key).encrypt(credentials)


def load_credentials(
    account: SocialAccount, settings: Settings, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The account's credentials: the environment's, with stored (encrypted) ones on top.

    Stored values win because they are the newer ones: a LinkedIn token refreshed by
    dispatch is stored even when the first one came from the environment.
    """
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    if account.credentials_env:
        for name, variable in env_names(account.credentials_env, account.network).items():
            value = environ.get(variable, "").strip()
            if value:
                found[name] = value
    if account.credentials:
        try:
            stored = CredentialCipher.from_setting(settings.social.credentials_key).decrypt(
                account.credentials
            )
        except CredentialError as err:
            raise AccountError(f"account {account.id} ({account.name}): {err}") from err
        found.update({k: v for k, v in stored.items() if v})
    missing = [name for name in REQUIRED_FIELDS[account.network] if name not in found]
    if missing:
        where = (
            " or ".join(env_names(account.credentials_env, account.network)[m] for m in missing)
            if account.credentials_env
            else "stored credentials (dispatch social accounts add … --store-credentials)"
        )
        raise AccountError(
            f"account {account.id} ({account.name}) has no {', '.join(missing)}: set {where}"
        )
    return found


def publisher_for(
    account: SocialAccount,
    settings: Settings,
    *,
    on_linkedin_refresh: Callable[[LinkedInRefresh], None] | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Publisher:
    """The channel this account publishes through; AccountError if it cannot."""
    if uses_outbox(account, settings):
        return OutboxPublisher(
            settings.social_outbox_dir,
            network=account.network,
            account=account.handle or account.name,
        )
    if not has_credentials(account):
        raise AccountError(
            f"account {account.id} ({account.name}) has no credentials; in production mode "
            "it cannot fall back to the outbox: add --credentials-env or --store-credentials"
        )
    creds = load_credentials(account, settings, environ=environ)
    if account.network == "mastodon":
        if not account.base_url:
            raise AccountError(f"account {account.id} ({account.name}) has no instance URL")
        # Imported here: Mastodon.py and atproto weigh ~30 MB, which a mail worker never needs.
        from dispatch.social.networks.mastodon import MastodonPublisher

        return MastodonPublisher(
            api_base_url=account.base_url, access_token=creds["access_token"], timeout=timeout
        )
    if account.network == "bluesky":
        from dispatch.social.networks.bluesky import BlueskyPublisher

        return BlueskyPublisher(
            pds_url=account.base_url or DEFAULT_BLUESKY_PDS,
            handle=account.handle,
            app_password=creds["app_password"],
            timeout=timeout,
        )
    if account.network == "linkedin":
        return _linkedin(account, creds, on_linkedin_refresh, timeout)
    raise AccountError(f"account {account.id} has an unknown network {account.network!r}")


def _linkedin(
    account: SocialAccount,
    creds: dict[str, str],
    on_refresh: Callable[[LinkedInRefresh], None] | None,
    timeout: float,
) -> linkedin.LinkedInPublisher:
    expires = account.token_expires_at
    token = linkedin.LinkedInToken(
        access_token=creds["access_token"],
        expires_at=expires.timestamp() if expires else None,
        refresh_token=creds.get("refresh_token"),
    )
    # A base URL other than LinkedIn's own is a compatible server (staging, tests) that
    # answers both the REST and the OAuth endpoints.
    api_base = account.base_url.rstrip("/") if account.base_url else linkedin.API_BASE
    oauth_base = linkedin.OAUTH_BASE if api_base == linkedin.API_BASE else api_base

    def refreshed(new: linkedin.LinkedInToken) -> None:
        if on_refresh is None:
            return
        stored = {
            "access_token": new.access_token,
            "refresh_token": new.refresh_token or "",
            "client_id": creds.get("client_id", ""),
            "client_secret": creds.get("client_secret", ""),
        }
        when = datetime.fromtimestamp(new.expires_at, UTC) if new.expires_at else None
        on_refresh(LinkedInRefresh({k: v for k, v in stored.items() if v}, when))

    return linkedin.LinkedInPublisher(
        organization_id=account.handle,
        token=token,
        client_id=creds.get("client_id", ""),
        client_secret=creds.get("client_secret", ""),
        api_base=api_base,
        timeout=timeout,
        oauth_base=oauth_base,
        on_token_refresh=refreshed,
    )
