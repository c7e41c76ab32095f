"""The public archive: sent newsletters online, without anyone's personal links."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.db import session_scope, utcnow
from dispatch.web.app import create_app
from tests import factories


def _editions(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with session_scope(sessions) as session:
        post = factories.item(session, title="Innovation publique : déplier l’évaluation")
        sent = factories.edition(
            session,
            items=[post],
            subject="La lettre de novembre",
            status="sent",
            started_at=utcnow(),
        )
        draft = factories.edition(session, items=[post], subject="Brouillon secret")
        return sent.id, draft.id


def test_sent_newsletters_are_listed_and_readable(
    settings: Settings, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    sent, draft = _editions(sessions)
    client = TestClient(create_app(settings, engine=committed_engine))
    index = client.get("/archive")
    assert index.status_code == 200
    assert "La lettre de novembre" in index.text
    assert "Brouillon secret" not in index.text
    assert '<html lang="fr">' in index.text
    page = client.get(f"/archive/{sent}")
    assert page.status_code == 200
    assert "Innovation publique" in page.text
    # No reader's signed links: the footer points to the subscribe page.
    assert "/unsubscribe/" not in page.text and "/preferences/" not in page.text
    assert client.get(f"/archive/{draft}").status_code == 404
    assert client.get("/archive/999999").status_code == 404
    english = client.get("/archive", headers={"Accept-Language": "en"})
    assert "Past newsletters" in english.text
