"""The public web app on a real database, for the hostile-visitor tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch import migrate
from dispatch.config import AppSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.demo import ensure_topics
from dispatch.web.app import create_app
from tests.doorbells import Rings


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var", base_url="http://testserver"),
        web=WebSettings(form_min_seconds=0),
    )


@pytest.fixture
def web_engine(web_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(web_settings.database_url)
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        ensure_topics(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def web_sessions(web_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(web_engine)


@pytest.fixture
def rings() -> Rings:
    return Rings()


@pytest.fixture
def client(web_settings: Settings, web_engine: Engine, rings: Rings) -> TestClient:
    app = create_app(web_settings, engine=web_engine, doorbell=rings)
    return TestClient(app, follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def subscription_form(token: str, email: str, **extra: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "email": email,
        "name": "Léa Martin",
        "topic-blog": "weekly",
        "language": "fr",
        "consent": "yes",
        "consent_version": "2025-01",
        "website": "",
    }
    form.update(extra)
    return form
