"""Security headers on every response, set in one place: a strict policy by default, and a
route that needs a looser one says so with `Depends(use_policy("email"))`.

Every response (pages, redirects, JSON, errors, static files) gets a Content-Security-Policy
with `frame-ancestors 'none'`, `X-Frame-Options: DENY` (the staff email preview alone may be
framed, by dispatch's own pages: `SAMEORIGIN`), `X-Content-Type-Options: nosniff`
and `Referrer-Policy: no-referrer` (token URLs must never leak to another site), and HSTS
when the site's base URL is https or the visitor's connection is (directly or per a trusted
proxy). The looser
policies are all listed in `POLICIES`, so that each one is a decision someone can review.
A page with one inline style of its own (the staff pages' branding colour) calls
`allow_style_nonce`: the policy then names that response's nonce, and nothing else inline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.config import Settings
from dispatch.web.clientip import is_https

STRICT = "strict"
POLICIES = {
    # dispatch's own pages: its stylesheet, images, forms posting to itself; no script at all.
    STRICT: (
        "default-src 'none'; img-src 'self' https: data:; style-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # A staff page with a script of dispatch's own (static/social-count.js): the strict policy
    # plus scripts from the site itself; still nothing inline.
    "staff-script": (
        "default-src 'none'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # An email shown as a web page (the public archive, the staff preview): its styles are
    # inline and its images are anywhere; still no script, no form, no framing.
    "email": (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src * data:; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # A staff page with live parts: the strict policy, plus dispatch's own static scripts
    # (progress polling its own JSON) and its own pages in sandboxed frames (email previews).
    "staff-live": (
        "default-src 'none'; img-src 'self' https: data:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # The staff preview of an email inside that page's frame: as "email", framed by
    # dispatch's own pages only.
    "email-framed": (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; font-src * data:; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
    ),
}
HSTS = "max-age=31536000"
_STATE_KEY = "security_policy"


def use_policy(name: str) -> Any:
    """A route dependency choosing one of `POLICIES` for the route's responses."""
    if name not in POLICIES:
        raise ValueError(f"no security policy named {name!r} (known: {', '.join(POLICIES)})")

    def choose(request: Request) -> None:
        request.state.security_policy = name

    return Depends(choose)


def allow_style_nonce(request: Request, nonce: str) -> None:
    """Let this response's `<style nonce=…>` apply, under whichever policy the route chose."""
    request.state.style_nonce = nonce


def _policy_text(scope: Scope) -> str:
    text = POLICIES[policy_of(scope)]
    nonce = (scope.get("state") or {}).get("style_nonce")
    if nonce and "style-src 'self'" in text:
        text = text.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
    return text


def _frame_option(scope: Scope) -> bytes:
    return b"SAMEORIGIN" if "frame-ancestors 'self'" in POLICIES[policy_of(scope)] else b"DENY"


def policy_of(scope: Scope) -> str:
    """The name of the policy a request's response gets."""
    state = scope.get("state") or {}
    name = state.get(_STATE_KEY, STRICT)
    return name if name in POLICIES else STRICT


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers as the response starts, whatever produced it."""

    def __init__(self, app: ASGIApp, settings_of: Callable[[], Settings]) -> None:
        self.app = app
        self.settings_of = settings_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                settings = self.settings_of()
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in _OURS
                ]
                headers += [
                    (b"content-security-policy", _policy_text(scope).encode()),
                    (b"x-frame-options", _frame_option(scope)),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                # Over http a browser ignores HSTS: the public base URL is reason enough.
                https_site = settings.app.base_url.startswith("https://")
                if https_site or is_https(Request(scope), settings.web):
                    headers.append((b"strict-transport-security", HSTS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = {
    b"content-security-policy",
    b"x-frame-options",
    b"x-content-type-options",
    b"referrer-policy",
    b"strict-transport-security",
}
