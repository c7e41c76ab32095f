"""Signed links for subscribers: one salt per purpose, rotation through the old-keys list.

Unsubscribe, preferences and stay links never expire (they sit in every email ever sent); confirm
links expire after `security.confirm_max_age_days` and carry the subscriber's confirm nonce,
so a link from an earlier subscription cycle cannot re-activate the address.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from dispatch.config import Settings

Purpose = Literal["confirm", "preferences", "unsubscribe", "stay"]
SALTS: dict[Purpose, str] = {
    "confirm": "dispatch.audience.confirm",
    "preferences": "dispatch.audience.preferences",
    "unsubscribe": "dispatch.audience.unsubscribe",
    # The « Je reste abonné·e » button of the re-permission email: it only keeps a person.
    "stay": "dispatch.audience.stay",
}


@dataclass(frozen=True)
class ConfirmClaim:
    subscriber_id: int
    nonce: int


class TokenError(Exception):
    """A link that is forged, damaged, for another purpose, or too old."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _keys(settings: Settings) -> tuple[str, ...]:
    keys = settings.security.signing_keys()
    if not keys:
        raise ValueError("security.secret_key is not set: signed links cannot be made")
    # itsdangerous signs with the last key and accepts all of them.
    return tuple(reversed(keys))


@lru_cache(maxsize=32)
def _plain(keys: tuple[str, ...], salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(list(keys), salt=salt)


@lru_cache(maxsize=32)
def _timed(keys: tuple[str, ...], salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(keys), salt=salt)


def make_token(settings: Settings, purpose: Purpose, subscriber_id: int) -> str:
    """A never-expiring token for preferences or unsubscribe links."""
    if purpose == "confirm":
        raise ValueError("confirm tokens carry a nonce: use make_confirm_token")
    return str(_plain(_keys(settings), SALTS[purpose]).dumps(subscriber_id))


def read_token(settings: Settings, purpose: Purpose, token: str) -> int:
    """The subscriber id in a preferences or unsubscribe token, or TokenError."""
    try:
        value = _plain(_keys(settings), SALTS[purpose]).loads(token)
    except BadSignature as exc:
        raise TokenError("this link is not valid") from exc
    if type(value) is not int or value <= 0:
        raise TokenError("this link is not valid")
    return value


def make_confirm_token(settings: Settings, subscriber_id: int, nonce: int) -> str:
    return str(_timed(_keys(settings), SALTS["confirm"]).dumps([subscriber_id, nonce]))


def read_confirm_token(settings: Settings, token: str) -> ConfirmClaim:
    max_age = settings.security.confirm_max_age_days * 86400
    try:
        value = _timed(_keys(settings), SALTS["confirm"]).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError("this confirmation link has expired", expired=True) from exc
    except BadSignature as exc:
        raise TokenError("this link is not valid") from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(part) is int for part in value)
        or value[0] <= 0
    ):
        raise TokenError("this link is not valid")
    return ConfirmClaim(subscriber_id=value[0], nonce=value[1])


def unsubscribe_url(settings: Settings, subscriber_id: int) -> str:
    """The one-click unsubscribe URL for List-Unsubscribe and the footer of every email."""
    token = make_token(settings, "unsubscribe", subscriber_id)
    return f"{settings.app.base_url.rstrip('/')}/unsubscribe/{token}"


def preferences_url(settings: Settings, subscriber_id: int) -> str:
    """The preference centre URL: topics, frequency, language, pause, unsubscribe."""
    token = make_token(settings, "preferences", subscriber_id)
    return f"{settings.app.base_url.rstrip('/')}/preferences/{token}"


def stay_url(settings: Settings, subscriber_id: int) -> str:
    """The re-permission email's « Je reste abonné·e » page (a button that POSTs)."""
    token = make_token(settings, "stay", subscriber_id)
    return f"{settings.app.base_url.rstrip('/')}/stay/{token}"


def confirm_url(settings: Settings, subscriber_id: int, nonce: int) -> str:
    token = make_confirm_token(settings, subscriber_id, nonce)
    return f"{settings.app.base_url.rstrip('/')}/confirm/{token}"
