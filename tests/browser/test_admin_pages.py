"""The content and team pages in a real browser, as an owner: every page at 375 and 1280 px
without sideways scrolling and without serious axe-core issues, a curated pick added with
the keyboard alone, and screenshots kept in $DISPATCH_SCREENSHOTS (var/screenshots/)."""

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
from dispatch.config import AppSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker, utcnow
from dispatch.delivery.bounces import held
from dispatch.delivery.models import HeldReport
from dispatch.web.app import create_app
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
SHOTS = Path(os.environ.get("DISPATCH_SCREENSHOTS") or "var/screenshots")


@dataclass
class Site:
    url: str
    settings: Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    folder: Path = tmp_path_factory.mktemp("admin-pages")
    port = free_port()
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url=f"http://127.0.0.1:{port}"),
        web=WebSettings(form_min_seconds=0),
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        factories.staff(
            session, settings, role="owner", email="camille@example.org", password=PASSWORD
        )
        for slug, fr, en in (("onaime", "On aime", "We like"), ("events", "Évènements", "Events")):
            factories.topic(session, slug, name_fr=fr, name_en=en)
        blog = factories.source(
            session,
            name="Le blog de La 27e Région, avec un nom de source assez long pour un téléphone",
            url="https://www.la27eregion.fr/category/publications/feed/?avec=une-adresse-longue",
            last_status="error",
            last_polled_at=utcnow(),
            last_error="HTTP 404 from https://www.la27eregion.fr/category/publications/feed/",
            consecutive_failures=2,
        )
        item = factories.item(
            session, source=blog, title="Innovation publique : et si on « dépliait » l’évaluation ?"
        )
        factories.edition(session, subject="La lettre de décembre", items=[item])
        factories.subscriber(session, email="lectrice@example.org", topics={"events": "weekly"})
        session.add(
            HeldReport(
                kind="hard",
                recipients="lectrice@example.org",
                diagnostic="550 5.1.1 <lectrice@example.org>: Recipient address rejected",
                origin="MAILER-DAEMON@mx.example.org",
                reason=held.NO_PROOF,
                source_ref="maildir:browser-1",
            )
        )
        session.commit()
        item_id = item.id
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
    site = Site(f"http://127.0.0.1:{port}", settings)
    site.item_id = item_id  # type: ignore[attr-defined]
    yield site
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def page(site: Site) -> Iterator[Any]:
    with browser_session() as browser:
        context = browser.new_context(locale="fr-FR", bypass_csp=True)  # for axe-core
        tab = context.new_page()
        tab.goto(site.url + "/admin/login")
        tab.get_by_label("Adresse email", exact=True).fill("camille@example.org")
        tab.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
        tab.get_by_role("button", name="Se connecter").click()
        tab.wait_for_url(site.url + "/admin/")
        yield tab
        context.close()


def checked(page: Any, name: str) -> None:
    """No serious accessibility issue and no sideways scrolling at either width; a picture."""
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


def test_every_page_reads_on_a_phone_and_a_desktop(site: Site, page: Any) -> None:
    item_id = site.item_id  # type: ignore[attr-defined]
    pages = {
        "items": "/admin/items",
        "item": f"/admin/items/{item_id}",
        "new-pick": "/admin/items/picks/new",
        "sources": "/admin/sources",
        "topics": "/admin/topics",
        "topic": "/admin/topics/1",
        "bounces": "/admin/bounces",
        "audit": "/admin/audit",
        "staff": "/admin/staff",
        "person": "/admin/staff/1",
    }
    for name, path in pages.items():
        page.goto(site.url + path)
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.get_by_role("heading", level=1).is_visible(), name
        checked(page, name)


def _tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element `selector` names has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_pick_is_added_with_the_keyboard_alone(site: Site, page: Any) -> None:
    page.set_viewport_size({"width": 375, "height": 900})
    page.goto(site.url + "/admin/items")
    _tab_to(page, 'a[href="/admin/items/picks/new"]')
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/admin/items/picks/new")
    _tab_to(page, "#url")
    page.keyboard.type("https://podcast.example.org/episode-12")
    page.keyboard.press("Tab")
    page.keyboard.type("Un podcast sur l’action publique")
    page.keyboard.press("Tab")  # the tag: #onaime is chosen already
    assert page.evaluate("document.activeElement.id") == "tag"
    page.keyboard.press("Tab")
    page.keyboard.type("À écouter dans le train.")
    page.keyboard.press("Tab")
    page.keyboard.type("https://podcast.example.org/cover.jpg")
    _tab_to(page, 'form[action="/admin/items/picks"] button[type="submit"]')
    page.keyboard.press("Enter")
    # The image needs its text alternative: the page says so, and the link leads to the field.
    page.wait_for_url(site.url + "/admin/items/picks")
    summary = page.get_by_role("alert")
    summary.wait_for(state="visible")
    assert "Décrivez l’image" in summary.inner_text()
    checked(page, "pick-error")
    _tab_to(page, ".error-summary a")
    page.keyboard.press("Enter")
    _tab_to(page, "#image_alt")
    page.keyboard.type("Un micro devant un fond jaune")
    _tab_to(page, 'form[action="/admin/items/picks"] button[type="submit"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/items/*?done=pick-added")
    assert page.get_by_role("status").inner_text() == "La sélection est ajoutée."
    assert page.get_by_role("heading", level=1).inner_text() == "Un podcast sur l’action publique"
    checked(page, "pick")
