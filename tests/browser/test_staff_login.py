"""A staff member in a real browser: a wrong password, logging in, turning the second factor
on, logging in with it, logging out, and setting a new password from the emailed link.
axe-core checks the login, code and password pages at 375 and 1280 px on the way.
"""

from __future__ import annotations

import email
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pyotp
import pytest

from dispatch import migrate
from dispatch.config import AppSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.delivery import transactional
from dispatch.staff import mail
from dispatch.web.app import create_app
from tests import factories
from tests.browser_helpers import (
    axe_violations,
    browser_session,
    horizontal_overflow,
    missing_browser_reason,
)
from tests.doorbells import Answering
from tests.servers import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or ""),
]
PASSWORD = "une phrase de passe longue"
WIDTHS = (375, 1280)


@dataclass
class Site:
    url: str
    settings: Settings

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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    folder: Path = tmp_path_factory.mktemp("staff-browser")
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
        session.commit()

    def send_link_now(task: str, link_id: int) -> None:
        # What the worker does with a reset link, in-line.
        assert task == mail.TASK
        with sessions() as session:
            prepared = mail.prepare(session, settings, link_id)
        assert prepared is not None
        assert transactional.send_once(settings, prepared.recipient, prepared.message).ok

    app = create_app(settings, engine=engine, doorbell=Answering(send_link_now))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Site(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with browser_session() as browser:
        yield browser


def checked(page: Any, where: str) -> None:
    """No serious accessibility issue and no sideways scrolling, on a phone and a desktop."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], f"{where} at {width} px"
        if horizontal_overflow(page):
            widest = page.evaluate(
                "() => [...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right >"
                " document.documentElement.clientWidth)"
                ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"
            )
            raise AssertionError(f"{where} scrolls sideways at {width} px: {widest}")


def log_in(page: Any, site: Site, password: str = PASSWORD) -> None:
    page.get_by_label("Adresse email", exact=True).fill("claire@example.org")
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()


def test_log_in_with_and_without_a_second_factor_then_out(site: Site, browser: Any) -> None:
    context = browser.new_context(locale="fr-FR", bypass_csp=True)  # for axe-core
    page = context.new_page()
    page.goto(site.url + "/admin/editions")
    assert page.url.startswith(site.url + "/admin/login?next=")
    assert page.locator("html").get_attribute("lang") == "fr"
    checked(page, "login page")

    log_in(page, site, "pas le bon")
    alert = page.get_by_role("alert")
    assert alert.get_by_text("L’adresse ou le mot de passe est incorrect.").is_visible()
    checked(page, "login page with an error")

    log_in(page, site)
    page.wait_for_url(site.url + "/admin/editions")
    cookie = next(c for c in context.cookies() if c["name"] == "dispatch_staff")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # The second factor, set up from the account page with an authenticator's code.
    page.goto(site.url + "/admin/account")
    page.get_by_role("button", name="Mettre en place un deuxième facteur").click()
    assert page.locator("svg").first.is_visible()  # the QR code
    checked(page, "account page with the QR code")
    key = page.locator("#totp-key").inner_text().replace(" ", "")
    page.get_by_label("Code de l’application", exact=True).fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Activer le deuxième facteur").click()
    codes = page.locator("ul.codes li").all_inner_texts()
    assert len(codes) == 10

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(r"/admin/login\?done=out"))
    assert page.get_by_text("Vous êtes déconnecté·e.").is_visible()

    # A later step: the next 30-second code (the one used above cannot be played again).
    log_in(page, site)
    page.wait_for_url(re.compile(r"/admin/login/code"))
    checked(page, "code page")
    page.get_by_label("Code", exact=True).fill("000000")
    page.get_by_role("button", name="Continuer").click()
    assert page.get_by_role("alert").is_visible()
    page.get_by_label("Code", exact=True).fill(codes[0])  # a recovery code
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url(site.url + "/admin/")
    assert page.get_by_role("heading", level=1).is_visible()
    context.close()


def test_a_forgotten_password_is_set_again_from_the_emailed_link(site: Site, browser: Any) -> None:
    context = browser.new_context(locale="fr-FR", bypass_csp=True)  # for axe-core
    page = context.new_page()
    page.goto(site.url + "/admin/login")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    checked(page, "forgotten password page")
    page.get_by_label("Adresse email", exact=True).fill("claire@example.org")
    page.get_by_role("button", name="M’envoyer un lien").click()
    assert page.get_by_role("status").get_by_text(re.compile("a un compte d’équipe")).is_visible()

    message = site.mail_to("claire@example.org")
    body = next(
        part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )
    link = re.search(r"http://\S+/admin/password/\S+", body)
    assert link, body
    page.goto(link.group(0))
    checked(page, "choose a password page")
    page.get_by_label("Nouveau mot de passe", exact=True).fill("une autre phrase de passe")
    page.get_by_label("Le même mot de passe, une seconde fois").fill("une autre phrase de passe")
    page.get_by_role("button", name="Enregistrer mon mot de passe").click()
    page.wait_for_url(re.compile(r"/admin/login\?done=password"))
    page.goto(link.group(0))
    assert page.get_by_role("heading", name="Ce lien ne fonctionne plus").is_visible()
    checked(page, "expired link page")
    context.close()
