"""The subscribers and social pages in a real browser: each page at 375 and 1280 px (no
sideways scrolling, no serious axe-core issue, a screenshot in DISPATCH_SCREENSHOTS), and
a Brevo export imported from upload to done with the keyboard alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dispatch import migrate
from dispatch.config import AppSettings, WebSettings, build_settings
from dispatch.content import publications
from dispatch.db import make_engine, make_sessionmaker, utcnow
from dispatch.delivery.models import Delivery
from dispatch.social import counting
from dispatch.social import service as social
from tests import factories
from tests.browser_helpers import (
    axe_violations,
    browser_session,
    horizontal_overflow,
    missing_browser_reason,
    screenshot,
)
from tests.doorbells import Rings
from tests.servers import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or ""),
]
PASSWORD = "une phrase de passe longue"
WIDTHS = (375, 1280)
SHOTS = Path(
    os.environ.get("DISPATCH_SCREENSHOTS") or Path(__file__).parents[2] / "var" / "screenshots"
)
IMPORTS = Path(__file__).parents[1] / "fixtures" / "imports"


@dataclass
class Site:
    url: str
    subscriber_id: int
    account_id: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    from dispatch.web.app import create_app

    folder: Path = tmp_path_factory.mktemp("people-browser")
    port = free_port()
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url=f"http://127.0.0.1:{port}"),
        web=WebSettings(form_min_seconds=0),
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        factories.staff(
            session, settings, role="editor", email="claire@example.org", password=PASSWORD
        )
        factories.topic(session, "blog", name_fr="Le blog", name_en="The blog")
        factories.topic(session, "events", name_fr="Évènements", name_en="Events")
        reader = factories.subscriber(
            session,
            email="ines.moreau-de-la-fontaine@exemple-association.org",
            name="Inès Moreau",
            topics={"blog": "weekly", "events": "immediately"},
        )
        for n in range(3):
            factories.subscriber(session, email=f"lecteur{n}@example.org")
        edition = factories.edition(session, subject="La lettre de novembre", status="sent")
        session.add(
            Delivery(
                edition_id=edition.id, subscriber_id=reader.id, status="sent", sent_at=utcnow()
            )
        )
        account = social.add_account(
            session,
            settings,
            social.AccountSpec(network="mastodon", name="Mastodon", base_url="https://m.example"),
        )
        item = factories.item(
            session, title="Dépliez l’évaluation des politiques publiques", topics=["blog"]
        )
        publications.fire_publication(session, item.id)
        social.consume_publications(session, settings)
        ids = reader.id, account.id
        session.commit()

    app = create_app(settings, engine=engine, doorbell=Rings())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Site(f"http://127.0.0.1:{port}", *ids)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def page(site: Site) -> Iterator[Any]:
    with browser_session() as browser:
        context = browser.new_context(locale="fr-FR", bypass_csp=True)  # for axe-core
        page = context.new_page()
        page.goto(site.url + "/admin/login")
        page.get_by_label("Adresse email", exact=True).fill("claire@example.org")
        page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(site.url + "/admin/")
        yield page
        context.close()


def checked(page: Any, name: str) -> None:
    """No serious accessibility issue and no sideways scrolling, on a phone and a desktop."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], f"{name} at {width} px"
        if horizontal_overflow(page):
            widest = page.evaluate(
                "() => [...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right >"
                " document.documentElement.clientWidth)"
                ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"
            )
            raise AssertionError(f"{name} scrolls sideways at {width} px: {widest}")
        screenshot(page, SHOTS / f"admin-{name}-{width}.png")


def test_every_people_page_reads_on_a_phone_and_a_desktop(site: Site, page: Any) -> None:
    person = f"/admin/subscribers/{site.subscriber_id}"
    for path, name in [
        ("/admin/subscribers", "subscribers"),
        (person, "subscriber"),
        (f"{person}/edit", "subscriber-edit"),
        (f"{person}/erase", "subscriber-erase"),
        ("/admin/subscribers/new", "subscriber-new"),
        ("/admin/subscribers/import", "import"),
        ("/admin/social", "social"),
        ("/admin/social/accounts", "social-accounts"),
        (f"/admin/social/accounts/{site.account_id}", "social-account"),
    ]:
        page.goto(site.url + path)
        assert page.get_by_role("heading", level=1).is_visible(), path
        checked(page, name)
    page.goto(site.url + "/admin/social")
    assert page.get_by_text("/ 500 caractères").first.is_visible()
    # The count follows the typing, as Mastodon counts: graphemes, every link as 23.
    text = "Lisez https://www.example.org/une/adresse/bien/plus/longue/que/23 👩🏽‍💻 (Lyon) !"
    page.locator("textarea").first.fill(text)
    assert page.locator("[data-used]").first.inner_text() == str(counting.length("mastodon", text))
    page.locator("textarea").first.fill("é" * 501)
    assert page.get_by_text("trop long de 1").is_visible()


def tab_to(page: Any, selector: str, *, limit: int = 120) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user moves through a page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


def test_a_brevo_export_is_imported_with_the_keyboard(site: Site, page: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site.url + "/admin/subscribers")
    tab_to(page, "a[href='/admin/subscribers/import']")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/admin/subscribers/import")
    # Choosing the file is the system's dialog; the rest is the page's, by keyboard.
    page.locator("#file").set_input_files(str(IMPORTS / "brevo.csv"))
    tab_to(page, "button[type=submit]:not(.link)")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/admin/subscribers/import/**")
    assert page.get_by_text("un export Brevo").is_visible()
    assert page.locator("#map-first_name").input_value() == "2"  # PRENOM
    assert page.locator("#map-language").input_value() == "5"  # LANGUE
    assert not page.locator("#welcome").is_checked()
    checked(page, "import-preview")

    tab_to(page, "#default-blog")
    page.keyboard.press("Space")
    tab_to(page, "#consent_source")
    page.keyboard.type("Assemblée générale 2026")
    tab_to(page, "button[value=check]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").get_by_text("3 personnes seraient ajoutées").is_visible()
    checked(page, "import-checked")

    tab_to(page, "button[value=import]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/admin/subscribers?done=imported**")
    assert page.get_by_role("status").get_by_text("3 ajouté·es").is_visible()
    assert page.get_by_role("link", name="tom.nguyen@example.org").is_visible()
