"""The back office in a real browser: an editor composes a letter from three items, previews
it on a phone and a desktop, sends herself a test, schedules it, watches it go out and reads
how it went; an author cannot send; a viewer changes nothing; the compose-and-schedule task
done with the keyboard alone. axe-core checks every page at 375 and 1280 px, and each page
is photographed at both widths into $DISPATCH_SCREENSHOTS (default var/screenshots/).

The pages run under their real Content-Security-Policy (axe-core is injected through the
DevTools protocol, which the policy does not govern), so the progress script and the
preview frames are tested as staff get them. The sending engine runs in-process, one batch
at a time, so that the progress the page shows moves between two known figures.
"""

from __future__ import annotations

import email
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch import migrate
from dispatch.config import AppSettings, MailSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker, utcnow
from dispatch.delivery import sending, sweeper, throttle
from dispatch.delivery.transport import for_settings
from dispatch.editions.models import Edition
from dispatch.web.app import create_app
from tests import factories
from tests.browser_helpers import (
    AXE_PATH,
    browser_session,
    horizontal_overflow,
    missing_browser_reason,
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
TITLES = ("Trois tiers-lieux ouvrent", "L’évaluation dépliée", "Un atelier à Lyon")


@dataclass
class Site:
    url: str
    settings: Settings
    sessions: sessionmaker[Session]

    def mail_to(self, address: str, timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in sorted(self.settings.mail_outbox_dir.glob("*.eml")):
                raw = path.read_bytes()
                if f"Envelope-To: {address}".encode() in raw:
                    path.unlink()
                    return email.message_from_bytes(raw)
            time.sleep(0.05)
        raise AssertionError(f"no email to {address}")

    def mailer(self) -> sending.Mailer:
        return sending.Mailer(
            self.settings,
            for_settings(self.settings),
            throttle.for_settings(self.settings, self.sessions),
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    folder: Path = tmp_path_factory.mktemp("back-office")
    port = free_port()
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url=f"http://127.0.0.1:{port}"),
        web=WebSettings(form_min_seconds=0),
        mail=MailSettings(batch_size=2, rate_per_second=1000),
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        for role in ("editor", "author", "viewer"):
            factories.staff(
                session, settings, role=role, email=f"{role}@example.org", password=PASSWORD
            )
        factories.topic(session, "blog", name_fr="Le blog", name_en="The blog")
        for n, title in enumerate(TITLES):
            factories.item(session, title=title, published_at=utcnow() - timedelta(hours=n + 1))
        for n in range(6):
            factories.subscriber(
                session, email=f"lectrice{n}@example.org", locale="fr" if n < 4 else "en"
            )
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
    yield Site(f"http://127.0.0.1:{port}", settings, sessions)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with browser_session() as browser:
        yield browser


def axe(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings, the script injected past the page's policy."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_PATH.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => ({id: v.id, help: v.help, targets: v.nodes.map(n => n.target).slice(0, 5)}))"
    )
    return list(found)


def checked(page: Any, name: str) -> None:
    """axe-core finds nothing serious, nothing scrolls sideways, and a photograph is kept,
    at a phone's width and a desktop's."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe(page) == [], f"{name} at {width} px"
        assert horizontal_overflow(page) == 0, f"{name} scrolls sideways at {width} px"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"back-office-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def log_in(page: Any, site: Site, role: str, path: str) -> None:
    page.goto(site.url + path)
    page.get_by_label("Adresse email", exact=True).fill(f"{role}@example.org")
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(site.url + path)


def item_ids(site: Site) -> dict[str, int]:
    from dispatch.content.models import ContentItem

    with site.sessions() as session:
        return {i.title: i.id for i in session.scalars(select(ContentItem))}


def send_one_batch(site: Site, edition_id: int) -> None:
    sending.send_next_batch(site.sessions, edition_id, site.mailer())


def counted(page: Any, field: str, value: int) -> None:
    """Wait until the progress block shows `value` for `field` (the script polls)."""
    page.locator(f".progress-block [data-field={field}]").filter(
        has_text=re.compile(rf"^{value}$")
    ).wait_for(timeout=15000)


def test_an_editor_composes_previews_tests_schedules_and_reads_the_results(
    site: Site, browser: Any
) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    log_in(page, site, "editor", "/admin/")
    assert page.get_by_role("heading", name="Publié depuis la dernière lettre").is_visible()
    checked(page, "home")
    page.get_by_role("link", name="Nouvelle lettre").first.click()
    page.wait_for_url(site.url + "/admin/editions/new")
    checked(page, "new-letter")

    ids = item_ids(site)
    page.get_by_label("Objet", exact=True).first.fill("La lettre de décembre")
    page.locator("#intro").fill("Bonjour à **toutes et à tous**,")
    page.locator("#subject_en").fill("The December letter")
    for title in TITLES:  # the three recent items, ticked by default
        assert page.get_by_label(f"Inclure {title}").is_checked()
    page.get_by_role("button", name=f"Monter {TITLES[2]}").click()  # works without a script
    page.get_by_role("button", name="Prévisualiser l’introduction").click()
    assert page.locator(".markdown-preview strong").inner_text() == "toutes et à tous"
    order = [int(page.locator(f"#pos-{ids[t]}").input_value()) for t in TITLES]
    assert order == [1, 3, 2]
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.wait_for_url(re.compile(r"/admin/editions/\d+\?done=saved"))
    edition_id = int(re.search(r"/editions/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert page.get_by_role("status").get_by_text("La lettre est enregistrée.").is_visible()
    with site.sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        assert [link.item.title for link in edition.items] == [TITLES[0], TITLES[2], TITLES[1]]

    # Who will receive it, then the previews as a phone and a desktop show it.
    assert page.get_by_text("6 abonné·es, si elle partait maintenant.").is_visible()
    for width in (375, 600):
        frame = page.frame_locator(f'iframe[title="La lettre à {width} px"]')
        frame.get_by_text(TITLES[2], exact=True).first.wait_for()
        body = frame.locator("body")
        assert body.evaluate("b => b.getBoundingClientRect().width") == width
    checked(page, "draft")

    # A test, to her own address (ticked by default): it lands in the outbox.
    page.get_by_role("button", name="Envoyer le test").click()
    assert page.get_by_role("status").get_by_text("Test envoyé à editor@example.org.").is_visible()
    test = site.mail_to("editor@example.org")
    subject = str(make_header(decode_header(test["Subject"])))
    assert subject == "[Test] La lettre de décembre"

    # Scheduled for tomorrow, 9:00 in Paris (the form's default), after a confirmation.
    page.get_by_role("button", name="Programmer…").click()
    assert page.get_by_role("heading", name=re.compile("Programmer cette lettre")).is_visible()
    assert page.get_by_text(re.compile(r"pour 6 abonné·es")).is_visible()
    checked(page, "confirm-schedule")
    page.get_by_role("button", name="Oui, la programmer").click()
    page.wait_for_url(re.compile(r"done=scheduled"))
    assert (
        page.get_by_text(re.compile(r"Partira le \w+ \d+")).inner_text().count("9\u00a0h\u00a000")
    )

    # Its time comes: the engine starts it and sends two messages at a time.
    with site.sessions() as session, session.begin():
        send_at = session.get(Edition, edition_id).send_at  # type: ignore[union-attr]
        started = sweeper.sweep(session, settings=site.settings, now=send_at + timedelta(seconds=1))
        assert edition_id in started.started
    page.goto(f"{site.url}/admin/editions/{edition_id}")
    counted(page, "queued", 6)
    checked(page, "sending")
    send_one_batch(site, edition_id)
    counted(page, "sent", 2)
    counted(page, "queued", 4)
    send_one_batch(site, edition_id)
    counted(page, "sent", 4)
    send_one_batch(site, edition_id)
    # Done: the page reloads itself with the results, per language.
    page.get_by_role("heading", name="Résultats").wait_for(timeout=15000)
    total = page.locator("tr.total td")
    assert total.first.inner_text() == "6", page.locator("main").inner_text()
    french = page.get_by_role("row", name=re.compile("^Français"))
    assert french.locator("td").first.inner_text() == "4"
    checked(page, "results")
    page.goto(site.url + "/admin/editions")
    assert page.get_by_role("link", name="La lettre de décembre").is_visible()
    checked(page, "editions")
    page.goto(site.url + "/admin/nothing-here")
    assert page.get_by_role("heading", name="Page introuvable").is_visible()
    checked(page, "not-found")
    context.close()


def _draft(site: Site, subject: str) -> int:
    with site.sessions() as session:
        items = list(session.scalars(select(__import__("dispatch").content.models.ContentItem)))
        edition = factories.edition(session, subject=subject, items=items[:3], status="draft")
        session.commit()
        return edition.id


def test_an_author_prepares_but_cannot_send_and_a_viewer_changes_nothing(
    site: Site, browser: Any
) -> None:
    edition_id = _draft(site, "La lettre d’un auteur")
    path = f"/admin/editions/{edition_id}"
    for role in ("author", "viewer"):
        context = browser.new_context(locale="fr-FR")
        page = context.new_page()
        log_in(page, site, role, path)
        assert page.get_by_role("button", name="Programmer…").count() == 0
        assert page.get_by_role("button", name="Envoyer maintenant…").count() == 0
        assert page.get_by_role("button", name="Annuler la lettre").count() == 0
        can_draft = role == "author"
        assert page.get_by_role("button", name="Enregistrer le brouillon").count() == can_draft
        assert page.get_by_role("button", name="Envoyer le test").count() == can_draft
        if can_draft:  # the viewer's page is the same page with less on it
            checked(page, f"edition-as-{role}")
        token = page.locator('input[name="csrf_token"]').first.input_value()
        for action in ("schedule", "send", "cancel"):
            answer = context.request.post(
                f"{site.url}{path}/{action}",
                form={
                    "csrf_token": token,
                    "confirmed": "yes",
                    "day": "2030-01-01",
                    "time": "09:00",
                },
                max_redirects=0,
            )
            assert answer.status == 403, (role, action)
        if role == "viewer":
            answer = context.request.post(
                f"{site.url}{path}", form={"csrf_token": token, "action": "save"}, max_redirects=0
            )
            assert answer.status == 403
        context.close()
    with site.sessions() as session:
        assert session.get(Edition, edition_id).status == "draft"  # type: ignore[union-attr]


def tab_to(page: Any, selector: str, limit: int = 250) -> None:
    """Press Tab until `selector` has the focus, as a keyboard user would, and check the
    focus can be seen."""
    target = page.locator(selector).first
    for _ in range(limit):
        if target.evaluate("e => e === document.activeElement"):
            style = target.evaluate(
                "e => { const s = getComputedStyle(e); return s.outlineStyle + ' ' + s.boxShadow }"
            )
            assert not style.startswith("none none"), f"{selector} has no visible focus"
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_compose_and_schedule_with_the_keyboard_alone(site: Site, browser: Any) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    log_in(page, site, "editor", "/admin/")
    tab_to(page, 'a.button[href="/admin/editions/new"]')
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/admin/editions/new")
    tab_to(page, "#subject")
    page.keyboard.type("Au clavier seulement")
    tab_to(page, "#intro")
    page.keyboard.type("Bonjour,")
    first = item_ids(site)[TITLES[0]]
    tab_to(page, f"#item-{first}")
    if not page.locator(f"#item-{first}").is_checked():
        page.keyboard.press("Space")
    assert page.locator(f"#item-{first}").is_checked()
    tab_to(page, 'button[value="save"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=saved"))
    tab_to(page, "#day")  # tomorrow and 9:00 are already there
    tab_to(page, 'button:has-text("Programmer…")')
    page.keyboard.press("Enter")
    tab_to(page, 'button:has-text("Oui, la programmer")')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=scheduled"))
    assert page.get_by_text("La lettre est programmée.").is_visible()
    context.close()
