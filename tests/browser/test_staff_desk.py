"""An editor at the editorial desk in a real browser: the item awaiting approval, its social
post's text edited in place, the digest unchecked, one click to approve. axe-core checks the
page at 375 and 1280 px before and after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch import migrate
from dispatch.config import AppSettings, WebSettings, build_settings
from dispatch.content import desk, publications
from dispatch.db import make_engine, make_sessionmaker
from dispatch.social import service as social
from dispatch.social.models import SocialPost
from dispatch.web.app import create_app
from tests import factories
from tests.browser_helpers import (
    axe_violations,
    browser_session,
    horizontal_overflow,
    missing_browser_reason,
    screenshot,
)
from tests.servers import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or ""),
]
PASSWORD = "une phrase de passe longue"
WIDTHS = (375, 1280)
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, int]]:
    import uvicorn

    folder: Path = tmp_path_factory.mktemp("desk-browser")
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
        factories.topic(session, "controverse", desk_policy="approval", name_fr="Controverse")
        social.add_account(
            session,
            settings,
            social.AccountSpec(
                network="bluesky", name="Labo", handle="labo.bsky.social", mode="automatic"
            ),
        )
        item = factories.item(
            session, topics=["controverse"], title="L’évaluation d’impact peut-elle tout mesurer ?"
        )
        publications.fire_publication(session, item.id)
        social.consume_publications(session, settings)
        session.commit()
        item_id = item.id
    app = create_app(settings, engine=engine)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", sessions, item_id
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def checked(page: Any, where: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert axe_violations(page) == [], f"{where} at {width} px"
        assert horizontal_overflow(page) == 0, f"{where} scrolls sideways at {width} px"
        screenshot(page, SHOTS / f"desk-{where.replace(' ', '-')}-{width}.png")


def test_an_editor_approves_an_item_with_its_post_edited(site: tuple[str, Any, int]) -> None:
    url, sessions, item_id = site
    with browser_session() as browser:
        context = browser.new_context(locale="fr-FR", bypass_csp=True)  # for axe-core
        page = context.new_page()
        page.goto(url + "/admin/desk")
        page.get_by_label("Adresse email", exact=True).fill("claire@example.org")
        page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(url + "/admin/desk")
        assert page.get_by_role("heading", name="En attente de décision").is_visible()
        checked(page, "awaiting")

        text = page.get_by_label("Texte pour Labo")
        text.fill("À lire et à discuter : l’évaluation d’impact #controverse")
        page.get_by_label("Récapitulatifs de la semaine et du mois").uncheck()
        page.get_by_role("button", name="Approuver les canaux cochés").click()
        status = page.get_by_role("status")
        assert "les canaux cochés diffuseront ce contenu" in status.inner_text()
        assert page.get_by_text("Rien n’attend de décision.").is_visible()
        checked(page, "approved")
        context.close()

    with sessions() as session:
        assert desk.released(session, [item_id], "alert") == {item_id}
        assert desk.released(session, [item_id], "digest") == set()
        post = session.query(SocialPost).filter_by(item_id=item_id).one()
        assert post.text.startswith("À lire et à discuter") and post.status == "scheduled"
