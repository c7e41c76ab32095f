"""Staff pages: the editions list and the email preview, for logged-in staff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dispatch.web.admin.editions import fit_media_queries
from tests import browser_helpers, factories
from tests.web.staffsite import StaffSite, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin")):
        with built.session() as session:
            post = factories.item(session, title="Dépliez l'évaluation <b>!</b>")
            pick = factories.item(
                session, kind="pick", tag="onaime", topics=["onaime"], title="Pod"
            )
            factories.edition(
                session,
                subject="La lettre « test »",
                translations={"en": {"subject": "The “test” letter"}},
                items=[post, pick],
            )
            session.commit()
        yield built


@pytest.fixture(scope="module")
def client(site: StaffSite) -> TestClient:
    return site.browser("viewer")


PREVIEW = "/admin/editions/1/preview"


@pytest.mark.parametrize("path", [PREVIEW, "/admin/editions", "/admin/", "/admin/account"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Cookie": "dispatch_staff=forged"}],
)
def test_staff_pages_need_a_login(site: StaffSite, path: str, headers: dict[str, str]) -> None:
    response = site.client(**headers).get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=/admin")
    assert "La lettre" not in response.text


def test_preview_shows_the_compiled_email(client: TestClient) -> None:
    french = client.get(PREVIEW)
    english = client.get(PREVIEW, params={"locale": "en"})
    # Each in its language, French spacing in French.
    for response, subject in (
        (french, "La lettre «\u202ftest\u202f»"),
        (english, "The “test” letter"),
    ):
        assert response.status_code == 200
        assert subject in response.text
        assert "Dépliez l'évaluation &lt;b&gt;!&lt;/b&gt;" in response.text  # shown, inert
        assert "<iframe" not in response.text
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "script-src" not in response.headers["Content-Security-Policy"]  # none at all
    assert 'lang="en"' in english.text
    assert 'lang="fr"' in french.text
    assert "token=" not in french.text  # no secret in any link


def test_preview_width_375_lays_the_email_out_as_on_a_phone(client: TestClient) -> None:
    narrow = client.get(PREVIEW, params={"width": 375})
    wide = client.get(PREVIEW, params={"width": 600})
    assert narrow.status_code == wide.status_code == 200
    assert "width:375px" in narrow.text and "width:600px" in wide.text
    # The desktop rules (min-width: 480px) are off at 375 px and on at 600 px.
    assert "min-width:480px" not in narrow.text.replace(" ", "")
    assert "@media not all" in narrow.text
    assert client.get(PREVIEW, params={"width": 1024}).status_code == 400
    assert client.get(PREVIEW, params={"locale": "de"}).status_code == 400
    missing = client.get("/admin/editions/999/preview")
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
    response = client.get("/admin/editions")
    assert response.status_code == 200
    assert "La lettre « test »" in response.text
    assert "/admin/editions/1/preview?width=375" in response.text
    # In the staff member's language, as one block per edition on a phone.
    assert '<td data-label="Type">Lettre</td>' in response.text
    assert ">newsletter<" not in response.text and ">draft<" not in response.text
    assert 'class="stack"' in response.text


@pytest.mark.browser
def test_preview_in_a_browser_is_375_pixels_wide_without_horizontal_scroll(
    client: TestClient, tmp_path: Path
) -> None:
    reason = browser_helpers.missing_browser_reason()
    if reason:
        pytest.skip(reason)
    html = client.get(PREVIEW, params={"width": 375}).text
    with browser_helpers.browser_session() as browser:
        page = browser_helpers.open_html(browser, html, width=1280)
        body_width = page.evaluate("document.body.getBoundingClientRect().width")
        widest = page.evaluate(
            "Math.max(...[...document.body.querySelectorAll('*')]"
            ".map(e => e.getBoundingClientRect().width))"
        )
    assert body_width == 375
    assert widest <= 375
