"""The public archive: sent newsletters online, without anyone's personal links."""

from __future__ import annotations

from datetime import timedelta

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


def test_the_online_version_has_no_greeting_address_or_personal_links(
    settings: Settings, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    sent, _ = _editions(sessions)
    client = TestClient(create_app(settings, engine=committed_engine))
    page = client.get(f"/archive/{sent}").text
    assert "Innovation publique" in page
    assert "Bonjour," not in page and "Bonjour ," not in page  # no greeting with an empty name
    assert "envoyé à" not in page
    assert "Gérer mes préférences" not in page and "Se désabonner" not in page
    assert "Voir dans le navigateur" not in page  # it is the browser already
    assert "version en ligne" in page
    assert f'href="{settings.app.base_url}/"' in page  # subscribe, in place of personal links


def test_an_english_visitor_reads_the_english_version_or_the_whole_french_one(
    settings: Settings, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with session_scope(sessions) as session:
        post = factories.item(session, title="Un billet")
        both = factories.edition(
            session,
            items=[post],
            subject="La lettre bilingue",
            translations={"en": {"subject": "The bilingual letter", "intro": "Hello all."}},
            status="sent",
            started_at=utcnow(),
        )
        french = factories.edition(
            session,
            items=[post],
            subject="Seulement en français",
            status="sent",
            started_at=utcnow(),
        )
        ids = both.id, french.id
    client = TestClient(create_app(settings, engine=committed_engine))
    english = client.get(f"/archive/{ids[0]}?lang=en").text
    assert '<html lang="en"' in english and "Hello all." in english and "Highlights" in english
    fallback = client.get(f"/archive/{ids[1]}?lang=en").text
    assert '<html lang="fr"' in fallback and "À la une" in fallback and "Highlights" not in fallback
    index = client.get("/archive?lang=en").text
    assert "The bilingual letter" in index and "La lettre bilingue" not in index
    assert f'<a href="/archive/{ids[1]}?lang=fr" lang="fr" hreflang="fr">' in index


def test_the_atom_feed_lists_sent_newsletters_only_newest_first(
    settings: Settings, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    import feedparser

    now = utcnow()
    with session_scope(sessions) as session:
        post = factories.item(session, title="Un billet")
        older = factories.edition(
            session,
            items=[post],
            subject="Octobre",
            intro="La lettre [d’octobre](https://www.example.org/oct).",
            status="sent",
            started_at=now - timedelta(days=30),
            finished_at=now - timedelta(days=30),
        )
        newer = factories.edition(
            session, items=[post], subject="Novembre", status="sent", started_at=now
        )
        factories.edition(session, items=[post], subject="Brouillon secret")
        factories.edition(
            session, kind="alert", items=[post], subject="Une alerte", status="sent", started_at=now
        )
        factories.edition(
            session, kind="digest", items=[post], subject="Un récap", status="sent", started_at=now
        )
        ids = older.id, newer.id
    client = TestClient(create_app(settings, engine=committed_engine))

    index = client.get("/archive").text
    assert (
        '<link rel="alternate" type="application/atom+xml" href="/archive/feed.xml?lang=fr"'
        in index
    )

    response = client.get("/archive/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.language == "fr"
    assert feed.feed.id.endswith("/archive/feed.xml") and feed.feed.updated_parsed
    assert [entry.title for entry in feed.entries] == ["Novembre", "Octobre"]
    base = settings.app.base_url
    assert [entry.link for entry in feed.entries] == [
        f"{base}/archive/{ids[1]}?lang=fr",
        f"{base}/archive/{ids[0]}?lang=fr",
    ]
    assert all(entry.id and entry.updated_parsed for entry in feed.entries)
    assert feed.entries[1].summary == "La lettre d’octobre <https://www.example.org/oct>."
    for entry in feed.entries:  # each link leads to the letter online
        assert client.get(entry.link.removeprefix(base)).status_code == 200
