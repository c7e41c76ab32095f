"""Subscriber pages through the real app: search, one person's page, changes, exports,
erasure, and the CSV import of Mailchimp, Brevo and listmonk exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from dispatch.audience import mail_requests
from dispatch.audience.consent import history
from dispatch.audience.models import ConsentEvent, Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.db import utcnow
from dispatch.delivery.models import Delivery
from tests import factories
from tests.web.staffsite import StaffSite, csrf_of, plain, staff_site

IMPORTS = Path(__file__).parents[1] / "fixtures" / "imports"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-subscribers")):
        with built.session() as session:
            factories.topic(session, "blog", name_fr="Le blog", name_en="The blog")
            factories.topic(session, "events", name_fr="Évènements", name_en="Events")
            reader = factories.subscriber(
                session, email="ines@example.org", name="Inès Moreau", topics={"blog": "weekly"}
            )
            factories.subscriber(
                session, email="bob@example.org", name="Bob", locale="en",
                topics={"events": "monthly"},
            )  # fmt: skip
            edition = factories.edition(session, subject="La lettre de novembre", status="sent")
            session.add(
                Delivery(
                    edition_id=edition.id, subscriber_id=reader.id, status="sent", sent_at=utcnow()
                )
            )
            session.commit()
        yield built


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> TestClient:
    return site.browser("editor")


@pytest.fixture(scope="module")
def viewer(site: StaffSite) -> TestClient:
    return site.browser("viewer")


def _id(site: StaffSite, email: str) -> int:
    with site.session() as session:
        found = session.scalar(select(Subscriber.id).where(Subscriber.email == email))
        assert found is not None
        return found


def _post(client: TestClient, path: str, page: str, **fields: str) -> Response:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **fields})


def test_search_and_filters_find_the_right_people(viewer: TestClient) -> None:
    everyone = viewer.get("/admin/subscribers")
    assert everyone.status_code == 200
    assert "ines@example.org" in everyone.text and "bob@example.org" in everyone.text
    assert "Abonné·es" in everyone.text  # French first
    by_name = viewer.get("/admin/subscribers", params={"q": "moreau"}).text
    assert "ines@example.org" in by_name and "bob@example.org" not in by_name
    english = viewer.get("/admin/subscribers", params={"language": "en"}).text
    assert "bob@example.org" in english and "ines@example.org" not in english
    monthly = viewer.get("/admin/subscribers", params={"topic": "events", "frequency": "monthly"})
    assert "bob@example.org" in monthly.text and "ines@example.org" not in monthly.text
    none = viewer.get("/admin/subscribers", params={"status": "bounced"}).text
    assert "Personne ne correspond" in none


def test_a_viewer_sees_no_action_and_cannot_post(site: StaffSite, viewer: TestClient) -> None:
    person = _id(site, "ines@example.org")
    page = viewer.get(f"/admin/subscribers/{person}")
    assert page.status_code == 200
    assert "/unsubscribe" not in page.text and "/erase" not in page.text
    assert "/admin/subscribers/new" not in viewer.get("/admin/subscribers").text
    token = csrf_of(page.text)  # the logout form's
    for action in ("unsubscribe", "erase", "export", "pause"):
        response = viewer.post(f"/admin/subscribers/{person}/{action}", data={"csrf_token": token})
        assert response.status_code == 403, action
    assert viewer.get("/admin/subscribers/import").status_code == 403


def test_a_subscriber_page_shows_preferences_ledger_and_what_was_sent(
    site: StaffSite, viewer: TestClient
) -> None:
    page = viewer.get(f"/admin/subscribers/{_id(site, 'ines@example.org')}").text
    assert "Inès Moreau" in page
    assert "Le blog — Hebdomadaire" in page
    assert "La lettre de novembre" in page and "Envoyée" in page
    assert "Historique du consentement" in page


def test_add_change_pause_and_unsubscribe_write_the_ledger(
    site: StaffSite, editor: TestClient
) -> None:
    added = _post(
        editor, "/admin/subscribers/new", "/admin/subscribers/new",
        email="Zoe@Example.org", name="Zoé", language="fr", **{"topic-events": "immediately"},
        consent_source="fiche papier, AG 2026",
    )  # fmt: skip
    assert added.status_code == 303
    person = _id(site, "zoe@example.org")
    page = editor.get(added.headers["location"]).text
    assert "L’abonné·e est ajouté·e." in page.replace("'", "’")
    again = _post(
        editor, "/admin/subscribers/new", "/admin/subscribers/new",
        email="zoe@example.org", consent_source="x",
    )  # fmt: skip
    assert again.status_code == 400 and "Cette adresse est déjà abonnée." in again.text

    edit_page = f"/admin/subscribers/{person}/edit"
    saved = _post(
        editor, edit_page, edit_page, language="en", event_reminders="on",
        **{"topic-blog": "monthly"},
    )  # fmt: skip
    assert saved.status_code == 303
    paused = _post(editor, f"/admin/subscribers/{person}/pause", edit_page, days="30")
    assert paused.status_code == 303
    gone = _post(editor, f"/admin/subscribers/{person}/unsubscribe", edit_page)
    assert gone.status_code == 303
    with site.session() as session:
        zoe = session.get(Subscriber, person)
        assert zoe is not None and zoe.status == "unsubscribed" and zoe.locale == "en"
        assert is_suppressed(session, site.settings, "zoe@example.org")
        actions = [(e.action, e.source) for e in history(session, person)]
    assert actions[0] == ("add", "fiche papier, AG 2026")
    assert ("unsubscribe", "back office: editor@example.org") in actions
    assert [a for a, _ in actions].count("preferences") == 2  # the change, then the pause
    audited = [a for a, _ in site.audit_actions()]
    assert {"subscriber.added", "subscriber.preferences_changed", "subscriber.paused"} <= set(
        audited
    )
    assert "subscriber.unsubscribed" in audited
    # The ledger reads as words: topics by name and rhythm, the language, before → after.
    ledger = plain(editor.get(f"/admin/subscribers/{person}").text)
    assert "Thèmes : Évènements (à chaque parution) → Le blog (mensuel)" in ledger
    assert "Langue : français → anglais" in ledger
    assert "Avant : abonné·e" in ledger
    assert '{"' not in ledger


def test_gdpr_export_and_an_erasure_that_asks_for_the_address(
    site: StaffSite, editor: TestClient
) -> None:
    with site.session() as session:
        person = factories.subscriber(session, email="efface@example.org").id
        session.commit()
    page = f"/admin/subscribers/{person}"
    export = _post(editor, f"{page}/export", page)
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    assert json.loads(export.text)["subscriber"]["email"] == "efface@example.org"

    assert "Tapez l’adresse" in editor.get(f"{page}/erase").text.replace("'", "’")
    wrong = _post(editor, f"{page}/erase", f"{page}/erase", confirm="autre@example.org")
    assert wrong.status_code == 400
    assert editor.get(page).status_code == 200
    erased = _post(editor, f"{page}/erase", f"{page}/erase", confirm="Efface@example.org")
    assert erased.status_code == 303
    assert editor.get(page).status_code == 404
    with site.session() as session:
        assert is_suppressed(session, site.settings, "efface@example.org")
    actions = [a for a, _ in site.audit_actions()]
    assert "subscriber.exported" in actions and "subscriber.erased" in actions


def test_the_csv_export_downloads_everyone(editor: TestClient) -> None:
    response = _post(editor, "/admin/subscribers/export.csv", "/admin/subscribers")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert lines[0].startswith("email,name,language,topics,letter,status")
    assert any(line.startswith("ines@example.org,Inès Moreau,fr,blog:weekly,yes") for line in lines)


def _upload(client: TestClient, name: str, data: bytes) -> Response:
    token = csrf_of(client.get("/admin/subscribers/import").text)
    return client.post(
        "/admin/subscribers/import",
        data={"csrf_token": token},
        files={"file": (name, data, "text/csv")},
    )


def _import(client: TestClient, preview_url: str, **fields: str) -> Response:
    page = client.get(preview_url).text
    selected = {
        f"map-{name}": value
        for name, value in _selected(page).items()  # what the page recognised, as sent back
    }
    return client.post(preview_url, data={"csrf_token": csrf_of(page), **selected, **fields})


def _selected(page: str) -> dict[str, str]:
    import re

    found = {}
    for name, body in re.findall(
        r'<select id="map-(\w+)" name="map-\w+"[^>]*>(.*?)</select>', page, re.S
    ):
        chosen = re.search(r'<option value="(\d*)" selected>', body)
        found[name] = chosen.group(1) if chosen else ""
    return found


EXPECTED = {
    "mailchimp": ("Mailchimp", {"camille.roux@example.org": ("Camille Roux", "fr"),
                                "jules.martin@example.org": ("Jules Martin", "fr")}),
    "brevo": ("Brevo", {"lea.bernard@example.org": ("Léa Bernard", "fr"),
                        "tom.nguyen@example.org": ("Tom Nguyen", "en")}),
    "listmonk": ("listmonk", {"noor.haddad@example.org": ("Noor Haddad", "en"),
                              "marc.lefebvre@example.org": ("Marc Lefebvre", "fr")}),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_exports_of_other_tools_come_in_mapped_and_nobody_is_welcomed(
    site: StaffSite, editor: TestClient, kind: str
) -> None:
    label, people = EXPECTED[kind]
    uploaded = _upload(editor, f"{kind}.csv", (IMPORTS / f"{kind}.csv").read_bytes())
    assert uploaded.status_code == 303
    preview_url = uploaded.headers["location"]
    preview = editor.get(preview_url).text
    assert f"un export {label}" in preview
    assert _selected(preview)["email"] != ""
    first = next(iter(people))
    assert first in preview.lower()  # the first rows are shown before anything is added

    checked = _import(
        editor, preview_url, action="check", consent_source="AG 2026", **{"default-blog": "on"}
    )
    assert checked.status_code == 200 and "Rien n’est encore ajouté" in checked.text
    with site.session() as session:
        assert session.scalar(select(Subscriber).where(Subscriber.email == first)) is None

    rings_before = len(site.doorbell)
    done = _import(
        editor, preview_url, action="import", consent_source="AG 2026", **{"default-blog": "on"}
    )
    assert done.status_code == 303, done.text
    assert "done=imported" in done.headers["location"]
    imported = []
    with site.session() as session:
        for email, (name, language) in people.items():
            person = session.scalar(select(Subscriber).where(Subscriber.email == email))
            assert person is not None, email
            assert (person.name, person.locale, person.status) == (name, language, "active")
            assert {p.topic.slug for p in person.preferences} == {"blog"}
            event = session.scalar(
                select(ConsentEvent).where(ConsentEvent.subscriber_id == person.id)
            )
            assert event is not None and (event.action, event.source) == (
                "import",
                "import: AG 2026",
            )
            assert mail_requests.due(session, site.settings, "welcome", person.id) is None
            imported.append(person.id)
        # Nor will the sweep of lost emails send them one later.
        lost = mail_requests.unsent(session, now=utcnow() + timedelta(minutes=10))
        assert not [i for t, i in lost if t == mail_requests.TASKS["welcome"] and i in imported]
    assert not [r for r in site.doorbell[rings_before:] if r[0] == mail_requests.TASKS["welcome"]]
    assert editor.get(preview_url).status_code == 303  # the kept file is gone


def test_a_welcome_goes_out_only_when_asked(site: StaffSite, editor: TestClient) -> None:
    data = b"email,name\nbienvenue@example.org,Ana\n"
    preview_url = _upload(editor, "sheet.csv", data).headers["location"]
    rings_before = len(site.doorbell)
    done = _import(editor, preview_url, action="import", consent_source="stand", welcome="on")
    assert done.status_code == 303
    person = _id(site, "bienvenue@example.org")
    assert (mail_requests.TASKS["welcome"], (person,)) in site.doorbell[rings_before:]


def test_import_errors_are_listed_by_line_and_nothing_is_added(
    site: StaffSite, editor: TestClient
) -> None:
    data = (
        "EMAIL;PRENOM;NOM;LANGUE\nok@example.org;A;B;fr\npas-une-adresse;C;D;fr\n"
        "x@example.org;E;F;de\n"
    )
    preview_url = _upload(editor, "brevo.csv", data.encode()).headers["location"]
    response = _import(editor, preview_url, action="import", consent_source="AG")
    assert response.status_code == 400
    assert "ligne 3 (pas-une-adresse)" in response.text
    assert "ligne 4 (x@example.org)" in response.text
    # Said in French, not in the address parser's English.
    text = response.text.replace("\u202f", " ").replace("\u00a0", " ").replace("&#39;", "’")
    assert "ce n’est pas une adresse email à laquelle on peut écrire" in text
    assert "la langue est « de » : fr ou en" in text
    assert "must have an @-sign" not in text
    with site.session() as session:
        assert (
            session.scalar(select(Subscriber).where(Subscriber.email == "ok@example.org")) is None
        )
    missing = _import(editor, preview_url, action="import", consent_source="")
    assert missing.status_code == 400 and "consent_source" in missing.text


def test_a_file_over_the_limit_is_refused(
    editor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch.web.admin import imports

    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    response = _upload(editor, "big.csv", b"email\n" + b"a@example.org\n" * 20)
    assert response.status_code == 400
    assert "Mo" in response.text or "MB" in response.text


def test_a_staff_member_who_reads_english_gets_english_pages(site: StaffSite) -> None:
    from dispatch.staff.accounts import find

    with site.session() as session:
        owner = find(session, "owner@example.org")
        assert owner is not None
        owner.language = "en"
        session.commit()
    client = site.browser("owner")
    listing = client.get("/admin/subscribers").text
    assert "Import a CSV file" in listing and "Importer" not in listing
    assert "Upload and preview" in client.get("/admin/subscribers/import").text
