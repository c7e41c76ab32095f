"""Security headers on every route of the app, found by walking its router: a route added
tomorrow is checked without anyone listing it here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.routing import Mount

from dispatch.config import Settings
from dispatch.web.app import create_app
from dispatch.web.headers import POLICIES, STRICT
from tests.doorbells import Rings

# The routes that show an email as a page, and so chose the looser "email" policy.
EMAIL_PAGES = {"/archive/{edition_id}", "/admin/editions/{edition_id}/preview"}
# The staff pages that run a static script of dispatch's own ("staff-script": 'self' only).
SCRIPT_PAGES = {"/admin/social"}
# Staff pages with live parts (progress polling, preview frames): dispatch's own static
# scripts and frames, nothing else; and the email preview those frames show.
LIVE_PAGES = {"/admin/", "/admin/editions/new", "/admin/editions/{edition_id:int}"}
FRAMED_PAGES = {"/admin/editions/{edition_id}/frame"}
# A page may add its own one-time style nonce (the staff pages' branding colour), nothing else.
_NONCE = re.compile(r" 'nonce-[A-Za-z0-9_-]{20,}'")


def _requests(app: FastAPI) -> Iterator[tuple[str, str, str]]:
    """(method, url, route path) for every route and mount of the app (included routers
    walked as FastAPI itself walks them for OpenAPI), and an unknown path."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            yield "GET", f"{route.path}/site.css", route.path
            yield "GET", f"{route.path}/nothing-here", route.path
        elif route.path and route.methods:
            url = re.sub(r"\{[^}]+\}", "1", route.path)
            for method in sorted(route.methods):
                yield method, url, route.path
    yield "GET", "/no/such/page", "404"


def _all(app: FastAPI) -> list[tuple[str, str, str]]:
    found = list(_requests(app))
    paths = {path for _, _, path in found}
    # The walk must see the app's real surface, or the test proves nothing.
    assert {"/", "/subscribe", "/hooks/wordpress", "/healthz", "/static"} <= paths
    assert paths >= EMAIL_PAGES | SCRIPT_PAGES | LIVE_PAGES | FRAMED_PAGES
    return found


@pytest.fixture
def app(web_settings: Settings, web_engine: Engine) -> FastAPI:
    return create_app(web_settings, engine=web_engine, doorbell=Rings())


def _check(response, path: str) -> None:  # type: ignore[no-untyped-def]
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    headers = response.headers
    name = (
        "email"
        if path in EMAIL_PAGES
        else "staff-script"
        if path in SCRIPT_PAGES
        else "staff-live"
        if path in LIVE_PAGES
        else "email-framed"
        if path in FRAMED_PAGES
        else STRICT
    )
    expected = POLICIES[name]
    policy = headers.get("content-security-policy") or ""
    assert _NONCE.sub("", policy) == expected, where
    assert all(m.start() > policy.index("style-src") for m in _NONCE.finditer(policy)), where
    # Scripts, where a page has one, come from dispatch itself: never inline, never elsewhere.
    assert "script-src" not in expected or "script-src 'self';" in expected, where
    assert ("script-src" in expected) == (name in ("staff-script", "staff-live")), where
    # Only the email preview may be framed, and by dispatch's own pages.
    framed = name == "email-framed"
    assert f"frame-ancestors '{'self' if framed else 'none'}'" in expected
    assert headers.get("x-frame-options") == ("SAMEORIGIN" if framed else "DENY"), where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "no-referrer", where


def test_every_route_answers_with_the_security_headers(app: FastAPI) -> None:
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    for method, url, path in _all(app):
        response = client.request(method, url)
        _check(response, path)
        assert "strict-transport-security" not in response.headers  # plain http


def test_every_route_sends_hsts_over_https(app: FastAPI) -> None:
    client = TestClient(
        app, base_url="https://testserver", follow_redirects=False, raise_server_exceptions=False
    )
    for method, url, path in _all(app):
        response = client.request(method, url)
        _check(response, path)
        assert response.headers.get("strict-transport-security") == "max-age=31536000"


def test_hsts_behind_a_trusted_tls_proxy_only(app: FastAPI, web_settings: Settings) -> None:
    web_settings.web.trusted_proxies = ["10.0.0.2"]
    https = {"X-Forwarded-Proto": "https"}
    through_proxy = TestClient(app, client=("10.0.0.2", 4000))
    stranger = TestClient(app, client=("203.0.113.9", 4000))

    assert through_proxy.get("/", headers=https).headers["strict-transport-security"]
    assert "strict-transport-security" not in stranger.get("/", headers=https).headers
    assert "strict-transport-security" not in through_proxy.get("/").headers


def test_even_an_unexpected_error_page_carries_them(app: FastAPI) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken-for-this-test", broken)
    response = TestClient(app, raise_server_exceptions=False).get("/broken-for-this-test")
    assert response.status_code == 500
    _check(response, "/broken-for-this-test")


def test_a_policy_a_route_did_not_choose_cannot_be_set_by_the_route(app: FastAPI) -> None:
    from fastapi.responses import HTMLResponse

    def loose() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>", headers={"Content-Security-Policy": "default-src *"})

    app.add_api_route("/loose-for-this-test", loose)
    response = TestClient(app).get("/loose-for-this-test")
    assert response.headers["content-security-policy"] == POLICIES[STRICT]
