"""A running web app with one staff member per role, for the staff pages and the API.

`StaffSite.browser(role)` is a client logged in through the login form, as a person is;
`StaffSite.token(role)` is an API token made as `dispatch staff token create` makes one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dispatch import migrate
from dispatch.audit import AuditEvent
from dispatch.config import AppSettings, DatabaseSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.staff import tokens
from dispatch.staff.accounts import find
from dispatch.web.app import create_app
from tests import factories, servers
from tests.doorbells import Rings

ROLES = ("owner", "editor", "author", "viewer")
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def email_of(role: str) -> str:
    return f"{role}@example.org"


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def plain(html: str) -> str:
    """A page's text with French typography's no-break spaces as plain ones, to search in."""
    return html.replace("\u00a0", " ").replace("\u202f", " ")


def post_form(client: TestClient, page: str, action: str, data: Any = None) -> Any:
    """POST `data` to `action` with the CSRF token of the form `page` shows, as a browser
    sends a form from that page (`data` a dict, or a list of pairs for repeated fields)."""
    token = csrf_of(client.get(page).text)
    fields = list(data.items()) if isinstance(data, dict) else list(data or [])
    body = urlencode([*fields, ("csrf_token", token)])
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return client.post(action, content=body, headers=headers)


@dataclass
class StaffSite:
    settings: Settings
    engine: Engine
    doorbell: Rings = field(default_factory=Rings)

    def __post_init__(self) -> None:
        self.app = create_app(self.settings, engine=self.engine, doorbell=self.doorbell)

    def client(self, *, https: bool = False, ip: str = "testclient", **headers: str) -> TestClient:
        base = "https://testserver" if https else "http://testserver"
        return TestClient(
            self.app, base_url=base, follow_redirects=False, headers=headers, client=(ip, 50000)
        )

    def session(self) -> Session:
        return make_sessionmaker(self.engine)()

    def log_in(self, client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Any:
        token = csrf_of(client.get("/admin/login").text)
        fields = {"email": email, "password": password, "csrf_token": token, **extra}
        return client.post("/admin/login", data=fields)

    def browser(self, role: str) -> TestClient:
        """A client logged in as the `role` member, through the login form."""
        client = self.client()
        response = self.log_in(client, email_of(role))
        assert response.status_code == 303, response.text
        return client

    def token(self, role: str, scope: str = "write", **options: Any) -> str:
        with self.session() as session:
            user = find(session, email_of(role))
            assert user is not None
            _row, plain = tokens.create(
                session, user, name=f"tests {role} {scope}", scope=scope, **options
            )
            session.commit()
        return plain

    def audit_actions(self) -> list[tuple[str, str]]:
        """(action, actor) of every audit row, oldest first."""
        from sqlalchemy import select

        with self.session() as session:
            rows = session.execute(
                select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.id)
            )
            return [(action, actor) for action, actor in rows]


def _database_url(request: pytest.FixtureRequest, backend: str, folder: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'staff.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    return servers.create_database(server, name)


def build_site(folder: Path, url: str = "") -> StaffSite:
    """The app over a database that is not touched yet (SQLite in `folder` by default)."""
    url = url or f"sqlite:///{folder / 'staff.sqlite3'}"
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url="http://testserver"),
        database=DatabaseSettings(url=url),
        web=WebSettings(form_min_seconds=0),
    )
    return StaffSite(settings, make_engine(url))


def populate(site: StaffSite) -> StaffSite:
    """Migrate the site's database and give it one member per role."""
    migrate.upgrade(site.engine)
    with site.session() as session:
        for role in ROLES:
            factories.staff(
                session, site.settings, role=role, email=email_of(role), name=role.title()
            )
        session.commit()
    return site


def staff_site(
    request: pytest.FixtureRequest, folder: Path, *, backend: str = "sqlite", name: str = ""
) -> Iterator[StaffSite]:
    """A migrated database (SQLite, or a PostgreSQL one called `name`) with one member per
    role, and the app over it."""
    site = populate(build_site(folder, _database_url(request, backend, folder, name)))
    yield site
    site.engine.dispose()
