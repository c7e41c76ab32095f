"""The staff home and the staff error pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from dispatch.content.models import Source
from dispatch.db import utcnow
from dispatch.delivery.models import Delivery
from dispatch.social.models import SocialAccount, SocialPost
from dispatch.web.admin import dashboard
from tests import factories
from tests.web.staffsite import StaffSite, email_of, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-home")):
        with built.session() as session:
            item = factories.item(session, title="Un article tout neuf", published_at=utcnow())
            readers = [factories.subscriber(session) for _ in range(4)]
            going = factories.edition(
                session,
                subject="La lettre qui part",
                items=[item],
                status="sending",
                started_at=utcnow() - timedelta(days=2),
            )
            for n, reader in enumerate(readers):
                session.add(
                    Delivery(
                        edition_id=going.id,
                        subscriber_id=reader.id,
                        status="sent" if n < 3 else "queued",
                        sent_at=utcnow() if n < 3 else None,
                    )
                )
            factories.edition(
                session,
                subject="La lettre de mardi",
                items=[item],
                status="scheduled",
                send_at=factories.aware(2030, 12, 3, 8, 0),
            )
            broken = factories.source(session, name="Le flux cassé")
            broken.last_status, broken.consecutive_failures = "error", 3
            account = SocialAccount(network="mastodon", name="Mastodon de l’asso")
            session.add(account)
            session.flush()
            session.add(
                SocialPost(
                    account_id=account.id,
                    item_id=item.id,
                    status="awaiting_approval",
                    text="Un article à partager",
                    idempotency_key="k1",
                )
            )
            session.commit()
        yield built


def test_the_home_shows_what_goes_out_and_what_needs_someone(site: StaffSite) -> None:
    page = site.browser("viewer").get("/admin/")
    assert page.status_code == 200
    text = page.text.replace("\xa0", " ").replace("\u202f", " ")
    assert "La lettre qui part" in text
    assert re.search(r'data-field="sent">3<', text) and re.search(r'data-field="queued">1<', text)
    assert 'data-progress="/admin/editions/1/status.json"' in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # Scheduled next, in Paris time and in words (8:00 UTC is 9 h 00 in Paris in December).
    assert "La lettre de mardi" in text and "mardi 3 décembre 2030, 9 h 00" in text
    assert "Un article tout neuf" in text
    assert "Un article à partager" in text and 'href="/admin/social"' in text
    assert "Le flux cassé" in text and "3 échecs d’affilée." in text
    assert "Aucune lettre récente n’a eu plus de retours" in text
    # A viewer is not offered what they may not do.
    assert 'href="/admin/editions/new"' not in text
    assert 'href="/admin/editions/new"' in site.browser("editor").get("/admin/").text


def test_a_letter_that_bounced_a_lot_is_flagged(site: StaffSite) -> None:
    from dispatch.delivery.models import BounceEvent

    with site.session() as session:
        readers = [factories.subscriber(session) for _ in range(2)]
        sent = factories.edition(
            session, subject="La lettre rebondie", status="sent", finished_at=utcnow()
        )
        rows = [
            Delivery(
                edition_id=sent.id,
                subscriber_id=r.id,
                status="sent",
                sent_at=utcnow() - timedelta(hours=1),
            )
            for r in readers
        ]
        session.add_all(rows)
        session.flush()
        session.add(BounceEvent(delivery_id=rows[0].id, kind="hard", source_ref="b1"))
        session.commit()
    text = site.browser("viewer").get("/admin/").text
    assert "La lettre rebondie" in text and "Trop élevé" in text


def test_an_unknown_staff_address_gets_a_staff_page(site: StaffSite) -> None:
    client = site.browser("viewer")
    missing = client.get("/admin/nothing-here", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "Page introuvable" in missing.text and 'href="/static/admin.css"' in missing.text
    assert client.get("/admin/editions/999").status_code == 404


def test_a_failure_gets_a_staff_error_page(
    site: StaffSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(session: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(dashboard, "_failing_sources", broken)
    client = TestClient(
        site.app,
        base_url="http://testserver",
        raise_server_exceptions=False,
        follow_redirects=False,
    )
    assert site.log_in(client, email_of("editor")).status_code == 303
    page = client.get("/admin/")
    assert page.status_code == 500
    assert "Quelque chose s’est mal passé" in page.text
    assert "database went away" not in page.text
    public = client.get("/nowhere-but-broken")
    assert public.status_code == 404  # the public side keeps its own pages


def test_sources_are_not_flagged_once_they_answer(site: StaffSite) -> None:
    with site.session() as session:
        for source in session.query(Source).all():
            source.last_status, source.consecutive_failures = "ok", 0
        session.commit()
    assert "Toutes les sources répondent." in site.browser("viewer").get("/admin/").text
