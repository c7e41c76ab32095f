"""A reader in a real browser: subscribe, read the email, confirm, change preferences,
unsubscribe; in French and in English, with axe-core checking every page on the way.

The real app runs under uvicorn on a free local port; the confirmation email is read from
the outbox folder, exactly where the embedded mode writes it.
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

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from dispatch import migrate
from dispatch.audience import mail_requests, records, service, tokens
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.config import AppSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.delivery import transactional
from dispatch.delivery.transport import for_settings
from dispatch.demo import ensure_topics
from dispatch.web.app import create_app
from tests.browser_helpers import axe_violations, browser_session, missing_browser_reason
from tests.doorbells import Answering
from tests.servers import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or ""),
]

WORDS = {
    "fr": {
        "locale": "fr-FR",
        "blog": "Articles du blog",
        "events": "Évènements",
        "weekly": "Chaque semaine",
        "monthly": "Chaque mois",
        "immediately": "Dès publication",
        "none": "Pas intéressé·e",
        "subscribe": "S’abonner",
        "inbox": "Consultez votre boîte mail",
        "confirm": "Je confirme mon abonnement",
        "confirmed": "Abonnement confirmé",
        "to_preferences": "Changer mes thèmes, mon rythme ou ma langue",
        "save": "Enregistrer mes préférences",
        "saved": "Vos préférences sont enregistrées.",
        "pause": "Faire une pause",
        "unsubscribe": "Me désabonner de tout",
        "unsubscribed": "Vous êtes désabonné·e",
        "email_label": "Adresse email",
        "name_label": "Nom (facultatif)",
        "errors": "Merci de corriger ce qui suit :",
    },
    "en": {
        "locale": "en-GB",
        "blog": "Blog posts",
        "events": "Events",
        "weekly": "Weekly",
        "monthly": "Monthly",
        "immediately": "Immediately",
        "none": "Not interested",
        "subscribe": "Subscribe",
        "inbox": "Check your inbox",
        "confirm": "Confirm my subscription",
        "confirmed": "Subscription confirmed",
        "to_preferences": "Change my topics, frequency or language",
        "save": "Save my preferences",
        "saved": "Your preferences are saved.",
        "pause": "Take a break",
        "unsubscribe": "Unsubscribe from everything",
        "unsubscribed": "You are unsubscribed",
        "email_label": "Email address",
        "name_label": "Name (optional)",
        "errors": "Please correct the following:",
    },
}


@dataclass
class Site:
    url: str
    settings: Settings
    outbox: Path
    database_url: str

    def subscriber(self, address: str) -> Subscriber | None:
        engine = create_engine(self.database_url)
        try:
            with Session(engine, expire_on_commit=False) as session:
                return session.scalar(select(Subscriber).where(Subscriber.email == address))
        finally:
            engine.dispose()

    def mail_to(self, address: str, timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in sorted(self.outbox.glob("*.eml")):
                raw = path.read_bytes()
                if f"Envelope-To: {address}".encode() in raw:
                    return email.message_from_bytes(raw)
            time.sleep(0.05)
        raise AssertionError(f"no email to {address} in {self.outbox}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    folder = tmp_path_factory.mktemp("browser-site")
    port = free_port()
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url=f"http://127.0.0.1:{port}"),
        web=WebSettings(form_min_seconds=0),
    )
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        ensure_topics(session)
        session.commit()

    def run_task_now(name: str, subscriber_id: int) -> None:
        # What the worker would do, in-line: the handler rings after its commit.
        kind = {task: kind for kind, task in mail_requests.TASKS.items()}[name]
        with sessions() as session:
            transactional.send(session, settings, kind, subscriber_id, for_settings(settings))
            session.commit()

    app = create_app(settings, engine=engine, doorbell=Answering(run_task_now))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Site(
        f"http://127.0.0.1:{port}", settings, settings.mail_outbox_dir, settings.database_url
    )
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with browser_session() as browser:
        yield browser


def accessible(page: Any, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}: {violations}"


def choose(page: Any, topic: str, frequency: str) -> None:
    page.get_by_role("group", name=topic, exact=True).get_by_label(frequency, exact=True).check()


def link_in(message: Message, path: str) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            match = re.search(rf"http://\S+{path}\S+", payload.decode("utf-8"))
            if match:
                return match.group(0)
    raise AssertionError(f"no {path} link in the email")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_subscribe_confirm_change_and_unsubscribe(site: Site, browser: Any, lang: str) -> None:
    words = WORDS[lang]
    address = f"navigateur-{lang}@example.org"
    context = browser.new_context(locale=words["locale"], bypass_csp=True)
    page = context.new_page()

    page.goto(site.url + "/")
    assert page.locator("html").get_attribute("lang") == lang
    accessible(page, "subscribe page")

    # A first attempt with mistakes: errors are announced and the page stays accessible.
    page.get_by_role("button", name=words["subscribe"], exact=True).click()
    assert page.get_by_role("alert").get_by_text(words["errors"]).is_visible()
    accessible(page, "subscribe page with errors")

    page.get_by_label(words["email_label"], exact=True).first.fill(address)
    page.get_by_label(words["name_label"]).fill("Dominique Exemple")
    choose(page, words["blog"], words["weekly"])
    choose(page, words["events"], words["immediately"])
    page.locator("#consent").check()
    page.get_by_role("button", name=words["subscribe"], exact=True).click()
    page.get_by_role("heading", name=words["inbox"]).wait_for()
    accessible(page, "check your inbox page")
    subscriber = site.subscriber(address)
    assert subscriber is not None and subscriber.status == "pending"

    message = site.mail_to(address)
    assert message["Content-Language"] == lang
    page.goto(link_in(message, "/confirm/"))
    accessible(page, "confirm page")
    assert site.subscriber(address).status == "pending"  # type: ignore[union-attr]
    page.get_by_role("button", name=words["confirm"]).click()
    page.get_by_role("heading", name=words["confirmed"]).wait_for()
    accessible(page, "confirmed page")
    assert site.subscriber(address).status == "active"  # type: ignore[union-attr]

    page.get_by_role("link", name=words["to_preferences"]).click()
    accessible(page, "preferences page")
    choose(page, words["blog"], words["none"])
    choose(page, words["events"], words["monthly"])
    page.get_by_label(words["pause"]).select_option("30")
    page.get_by_role("button", name=words["save"]).click()
    page.get_by_role("status").get_by_text(words["saved"]).wait_for()
    accessible(page, "preferences page after saving")
    after = site.subscriber(address)
    assert after is not None
    assert {p.topic.slug: p.frequency for p in after.preferences} == {"events": "monthly"}
    assert after.paused_until is not None

    page.get_by_role("button", name=words["unsubscribe"]).click()
    page.get_by_role("heading", name=words["unsubscribed"]).wait_for()
    accessible(page, "unsubscribed page")
    assert site.subscriber(address).status == "unsubscribed"  # type: ignore[union-attr]
    context.close()


def test_link_pages_and_error_pages_are_accessible(site: Site, browser: Any) -> None:
    context = browser.new_context(locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    page.goto(site.url + "/unsubscribe/" + tokens.make_token(site.settings, "unsubscribe", 1))
    accessible(page, "unsubscribe page")
    for broken in ("/confirm/forged", "/preferences/forged", "/unsubscribe/forged"):
        page.goto(site.url + broken)
        accessible(page, broken)
    page.goto(site.url + "/?lang=en")
    page.get_by_label("Email address").last.fill("someone@example.org")
    page.get_by_role("button", name="Email me my link").click()
    page.get_by_role("heading", name="Your link is on its way").wait_for()
    accessible(page, "link requested page")
    context.close()


def test_the_stay_page_works_on_a_phone_without_javascript(site: Site, browser: Any) -> None:
    """The re-permission email's page at 375 px, scripts off: one button, and it keeps them."""
    address = "toujours-la@example.org"
    engine = create_engine(site.database_url)
    with Session(engine) as session:
        reader = records.add_subscriber(
            session,
            site.settings,
            service.SubscriptionRequest(email=address),
            Origin("AG 2023 sign-up sheet"),
        )
        session.commit()
        url = tokens.stay_url(site.settings, reader.id)
    engine.dispose()
    phone = {"width": 375, "height": 800}
    # Without JavaScript, as many mail clients' browsers open it: the button does the work.
    bare = browser.new_context(locale="fr-FR", viewport=phone, java_script_enabled=False)
    page = bare.new_page()
    page.goto(url)
    page.get_by_role("button", name="Je reste abonné·e").click()
    page.get_by_role("heading", name="Vous restez abonné·e").wait_for()
    bare.close()
    context = browser.new_context(locale="fr-FR", viewport=phone, bypass_csp=True)
    page = context.new_page()
    page.goto(url)
    accessible(page, "stay page at 375 px")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("button", name="Je reste abonné·e").click()
    page.get_by_role("heading", name="Vous restez abonné·e").wait_for()
    accessible(page, "stayed page at 375 px")
    context.close()
    found = site.subscriber(address)
    assert found is not None and found.last_engagement_at is not None
    assert found.last_engagement_at > found.created_at
