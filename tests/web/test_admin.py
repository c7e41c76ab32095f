"""Staff pages: the editions list and the email preview, behind the staff token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from dispatch import migrate
from dispatch.config import AppSettings, SecuritySettings, Settings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.web.admin import fit_media_queries
from dispatch.web.app import create_app
from tests import browser_helpers, factories
from tests.doorbells import Rings

TOKEN = "staff-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def admin_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path_factory.mktemp("admin")),
        security=SecuritySettings(staff_token=SecretStr(TOKEN)),
    )


@pytest.fixture(scope="module")
def engine(admin_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(admin_settings.database_url)
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        post = factories.item(session, title="Dépliez l'évaluation <b>!</b>")
        pick = factories.item(session, kind="pick", tag="onaime", topics=["onaime"], title="Pod")
        factories.edition(session, subject="La lettre « test »", items=[post, pick])
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def client(admin_settings: Settings, engine: Engine) -> TestClient:
    app = create_app(admin_settings, engine=engine, doorbell=Rings())
    return TestClient(app, follow_redirects=False)


PREVIEW = "/admin/editions/1/preview"


@pytest.mark.parametrize("path", [PREVIEW, "/admin/editions"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_staff_pages_need_the_token(client: TestClient, path: str, headers: dict[str, str]) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "La lettre" not in response.text
    assert client.get(path, params={"token": "wrong"}).status_code == 401


def test_preview_with_the_token_shows_the_compiled_email(client: TestClient) -> None:
    by_header = client.get(PREVIEW, headers={"Authorization": f"Bearer {TOKEN}"})
    by_query = client.get(PREVIEW, params={"token": TOKEN, "locale": "en"})
    for response in (by_header, by_query):
        assert response.status_code == 200
        assert "La lettre « test »" in response.text
        assert "Dépliez l'évaluation &lt;b&gt;!&lt;/b&gt;" in response.text  # shown, inert
        assert "<iframe" not in response.text
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "script-src" not in response.headers["Content-Security-Policy"]  # none at all
    assert 'lang="en"' in by_query.text
    assert 'lang="fr"' in by_header.text
    # Links on the page keep the token for a browser, never for a header-authenticated client.
    assert f"token={TOKEN}" in by_query.text
    assert f"token={TOKEN}" not in by_header.text


def test_preview_width_375_lays_the_email_out_as_on_a_phone(client: TestClient) -> None:
    narrow = client.get(PREVIEW, params={"token": TOKEN, "width": 375})
    wide = client.get(PREVIEW, params={"token": TOKEN, "width": 600})
    assert narrow.status_code == wide.status_code == 200
    assert "width:375px" in narrow.text and "width:600px" in wide.text
    # The desktop rules (min-width: 480px) are off at 375 px and on at 600 px.
    assert "min-width:480px" not in narrow.text.replace(" ", "")
    assert "@media not all" in narrow.text
    assert client.get(PREVIEW, params={"token": TOKEN, "width": 1024}).status_code == 400
    assert client.get(PREVIEW, params={"token": TOKEN, "locale": "de"}).status_code == 400
    missing = client.get("/admin/editions/999/preview", params={"token": TOKEN})
    assert missing.status_code == 404 and "does not exist" in missing.text


def test_media_queries_are_decided_for_the_chosen_width() -> None:
    css = (
        "@media only screen and (min-width:480px) { .a {} }"
        "@media screen and (max-width: 480px) { .b {} }"
        "@media print { .c {} }"
    )
    assert fit_media_queries(css, 375) == (
        "@media not all { .a {} }@media all { .b {} }@media print { .c {} }"
    )
    assert fit_media_queries(css, 600).startswith("@media all { .a {} }@media not all {")


def test_editions_list_links_to_previews(client: TestClient) -> None:
    response = client.get("/admin/editions", params={"token": TOKEN})
    assert response.status_code == 200
    assert "La lettre « test »" in response.text
    assert f"/admin/editions/1/preview?width=375&amp;token={TOKEN}" in response.text


@pytest.mark.browser
def test_preview_in_a_browser_is_375_pixels_wide_without_horizontal_scroll(
    client: TestClient, tmp_path: Path
) -> None:
    reason = browser_helpers.missing_browser_reason()
    if reason:
        pytest.skip(reason)
    html = client.get(PREVIEW, params={"token": TOKEN, "width": 375}).text
    with browser_helpers.browser_session() as browser:
        page = browser_helpers.open_html(browser, html, width=1280)
        body_width = page.evaluate("document.body.getBoundingClientRect().width")
        widest = page.evaluate(
            "Math.max(...[...document.body.querySelectorAll('*')]"
            ".map(e => e.getBoundingClientRect().width))"
        )
    assert body_width == 375
    assert widest <= 375
