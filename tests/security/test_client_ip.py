"""Forwarded-header spoofing: X-Forwarded-For and Forwarded count only from the addresses in
`web.trusted_proxies`; per-IP limits and the consent ledger use the address so decided. The
last test runs the real `dispatch web` (uvicorn) process, whose own proxy handling used to
believe X-Forwarded-For from any loopback peer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch import migrate
from dispatch.audience.models import ConsentEvent
from dispatch.config import Settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.demo import ensure_topics
from dispatch.web.app import create_app
from tests import processes, servers
from tests.doorbells import Rings
from tests.security.conftest import csrf_of, subscription_form

_seq = iter(range(1, 10_000))


@pytest.fixture
def app(web_settings: Settings, web_engine: Engine) -> FastAPI:
    return create_app(web_settings, engine=web_engine, doorbell=Rings())


def _subscribe(client: TestClient | httpx.Client, headers: dict[str, str] | None = None) -> int:
    token = csrf_of(client.get("/").text)
    form = subscription_form(token, f"visiteur{next(_seq)}@example.org")
    return client.post("/subscribe", data=form, headers=headers or {}).status_code


def _recorded_ips(sessions: sessionmaker[Session]) -> list[str | None]:
    with sessions() as session:
        return list(
            session.scalars(
                select(ConsentEvent.ip)
                .where(ConsentEvent.action == "subscribe")
                .order_by(ConsentEvent.id)
            )
        )


def test_without_trusted_proxies_a_forwarded_header_is_ignored(
    app: FastAPI, web_settings: Settings, web_sessions: sessionmaker[Session]
) -> None:
    web_settings.web.posts_per_ip_per_hour = 2
    client = TestClient(app, client=("127.0.0.1", 5000))
    spoofs = [
        {"X-Forwarded-For": "203.0.113.1"},
        {"Forwarded": "for=203.0.113.2"},
        {"X-Forwarded-For": "203.0.113.3"},
    ]

    assert [_subscribe(client, h) for h in spoofs] == [200, 200, 429]
    assert _recorded_ips(web_sessions) == ["127.0.0.1", "127.0.0.1"]


def test_a_trusted_proxy_names_each_visitor_and_they_count_apart(
    app: FastAPI, web_settings: Settings, web_sessions: sessionmaker[Session]
) -> None:
    web_settings.web.posts_per_ip_per_hour = 1
    web_settings.web.trusted_proxies = ["10.0.0.0/24"]
    proxy = TestClient(app, client=("10.0.0.2", 5000))

    assert _subscribe(proxy, {"X-Forwarded-For": "198.51.100.1"}) == 200
    assert _subscribe(proxy, {"X-Forwarded-For": "198.51.100.2"}) == 200
    # What the visitor wrote before the proxy appended their address counts for nothing.
    spoofed = {"X-Forwarded-For": "203.0.113.66, 198.51.100.1"}
    assert _subscribe(proxy, spoofed) == 429
    # Through two of our proxies, the visitor is the first address that is not ours.
    assert _subscribe(proxy, {"X-Forwarded-For": "198.51.100.3, 10.0.0.7"}) == 200
    assert _recorded_ips(web_sessions) == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]


def test_the_forwarded_header_when_the_proxy_writes_that_one(
    app: FastAPI, web_settings: Settings, web_sessions: sessionmaker[Session]
) -> None:
    web_settings.web.trusted_proxies = ["2001:db8::1"]
    web_settings.web.proxy_header = "forwarded"
    proxy = TestClient(app, client=("2001:db8::1", 5000))
    headers = {
        "Forwarded": 'for=203.0.113.66, for="[2001:db8:cafe::17]:4711";proto=https',
        "X-Forwarded-For": "192.0.2.99",  # not the header this proxy writes: ignored
    }

    assert _subscribe(proxy, headers) == 200
    assert _recorded_ips(web_sessions) == ["2001:db8:cafe::17"]


def test_a_stranger_cannot_pose_as_the_proxy(
    app: FastAPI, web_settings: Settings, web_sessions: sessionmaker[Session]
) -> None:
    web_settings.web.trusted_proxies = ["10.0.0.2"]
    stranger = TestClient(app, client=("203.0.113.50", 5000))

    assert _subscribe(stranger, {"X-Forwarded-For": "10.0.0.2"}) == 200
    assert _recorded_ips(web_sessions) == ["203.0.113.50"]


def test_a_site_wide_ceiling_stops_an_attack_spread_over_many_addresses(
    app: FastAPI, web_settings: Settings
) -> None:
    web_settings.web.posts_per_hour = 3
    answers = [_subscribe(TestClient(app, client=(f"198.51.100.{n}", 5000))) for n in range(1, 6)]
    assert answers == [200, 200, 200, 429, 429]


@pytest.mark.slow
@pytest.mark.parametrize(("trusted", "expected"), [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.7")])
def test_the_real_web_process_decides_the_address_from_the_setting(
    tmp_path: Path, trusted: str, expected: str
) -> None:
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        ensure_topics(session)
        session.commit()
    port = servers.free_port()
    env = processes.dispatch_env(
        data_dir=tmp_path / "var",
        database_url=url,
        DISPATCH_WEB__PORT=str(port),
        DISPATCH_WEB__FORM_MIN_SECONDS="0",
        DISPATCH_WEB__TRUSTED_PROXIES=trusted,
    )
    web = processes.start(["web"], env, tmp_path / "web.log")
    try:
        servers.wait_for_port(port, timeout=60, proc=web)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert _subscribe(client, {"X-Forwarded-For": "203.0.113.7"}) == 200
        assert _recorded_ips(make_sessionmaker(engine)) == [expected]
    except (AssertionError, TimeoutError, RuntimeError) as error:
        log = (tmp_path / "web.log").read_text(errors="replace")
        raise AssertionError(f"{error}\n--- web.log\n{log}") from error
    finally:
        processes.stop(web)
        engine.dispose()
