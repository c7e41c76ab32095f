"""CSRF for public forms: a double-submit cookie whose value the form carries, signed and dated.

The cookie holds a random value; each form carries that value signed with a timestamp. A post
is accepted when the signature is good, not too old, and matches the cookie. The timestamp
also tells how long the form was on screen, which the abuse checks use (robots are fast).
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

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
    return str(_serializer(settings).dumps(cookie.value))


def form_age(settings: Settings, request: Request, submitted: str | None) -> float | None:
    """Seconds since the form was served, or None if its CSRF token does not check out."""
    cookie = request.cookies.get(COOKIE_NAME, "")
    if not submitted or not _COOKIE_SHAPE.fullmatch(cookie):
        return None
    try:
        value, issued = _serializer(settings).loads(
            submitted, max_age=MAX_AGE_SECONDS, return_timestamp=True
        )
    except BadSignature:
        return None
    if not isinstance(value, str) or not hmac.compare_digest(value, cookie):
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
