"""CSRF for public forms: a double-submit cookie, and a signed, dated, single-use nonce.

The cookie holds a random value; each form served carries that value and a fresh nonce,
signed with a timestamp. A post is accepted when the signature is good, not too old, matches
the cookie, and its nonce was never used before (`dispatch.nonces`): a captured or resent
form is refused. The timestamp, signed with the nonce, tells how long this very form was on
screen, which the robot check uses (robots are fast); reusing an old form to pass it fails.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from dispatch import nonces
from dispatch.config import Settings

COOKIE_NAME = "dispatch_csrf"
FIELD_NAME = "csrf_token"
MAX_AGE_SECONDS = 2 * 86400
_SALT = "dispatch.web.csrf"
_COOKIE_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class CsrfCookie:
    value: str
    new: bool  # the response must set it


def cookie_for(request: Request) -> CsrfCookie:
    """The browser's CSRF cookie, or a fresh one to set on the response."""
    value = request.cookies.get(COOKIE_NAME, "")
    if _COOKIE_SHAPE.fullmatch(value):
        return CsrfCookie(value, new=False)
    return CsrfCookie(secrets.token_urlsafe(32), new=True)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(settings.security.signing_keys())), salt=_SALT)


def form_token(settings: Settings, cookie: CsrfCookie) -> str:
    """A token for one form: the cookie's value and a new nonce, signed with the time."""
    return str(_serializer(settings).dumps([cookie.value, secrets.token_urlsafe(16)]))


def accept(
    session: Session, settings: Settings, request: Request, submitted: str | None
) -> float | None:
    """Seconds since the form was served, or None if its token does not check out or was
    used before. Uses the nonce up: the same token is refused from now on. Flushes."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    if not submitted or not _COOKIE_SHAPE.fullmatch(cookie):
        return None
    try:
        value, issued = _serializer(settings).loads(
            submitted, max_age=MAX_AGE_SECONDS, return_timestamp=True
        )
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        return None  # not a token of this shape (or one from before nonces)
    value_cookie, nonce = value
    if not hmac.compare_digest(value_cookie, cookie):
        return None
    expires = issued + timedelta(seconds=MAX_AGE_SECONDS)
    if not nonces.use_once(session, f"form:{nonce}", expires_at=expires):
        return None
    return max(0.0, time.time() - issued.timestamp())


def set_cookie(response: Response, cookie: CsrfCookie, *, secure: bool) -> None:
    if cookie.new:
        response.set_cookie(
            COOKIE_NAME,
            cookie.value,
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
