"""Composing and sending a letter from the staff pages: the form, who may do what, the
audience count, the confirmations sized to the audience, progress and results."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.audience.consent import Origin
from dispatch.audience.service import unsubscribe
from dispatch.db import utcnow
from dispatch.delivery.models import BounceEvent, Delivery
from dispatch.editions.models import Edition
from dispatch.web.admin import sending
from tests import factories
from tests.web.staffsite import StaffSite, csrf_of, plain, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-editions")):
        with built.session() as session:
            factories.topic(session, "blog", name_fr="Le blog", name_en="The blog")
            factories.topic(session, "agenda", name_fr="Agenda", name_en="Events")
            for n in range(3):
                factories.item(session, title=f"Article {n}")
            factories.subscriber(session, email="ana@example.org", locale="fr")
            factories.subscriber(session, email="bo@example.org", locale="fr")
            factories.subscriber(session, email="cy@example.org", locale="en")
            factories.subscriber(
                session, email="di@example.org", locale="en", topics={"agenda": "weekly"}
            )
            factories.subscriber(session, email="gone@example.org", status="unsubscribed")
            session.commit()
        yield built


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> TestClient:
    return site.browser("editor")


def _item_ids(site: StaffSite) -> list[int]:
    from dispatch.content.models import ContentItem

    with site.session() as session:
        return list(session.scalars(select(ContentItem.id).order_by(ContentItem.id)))


def _compose(client: TestClient, site: StaffSite, **extra: str) -> int:
    page = client.get("/admin/editions/new")
    assert page.status_code == 200
    first, second, third = _item_ids(site)[:3]
    fields = {
        "csrf_token": csrf_of(page.text),
        "subject": "La lettre de décembre",
        "preheader": "Trois nouvelles",
        "intro": "Bonjour *à toutes et à tous*,",
        "subject_en": "The December letter",
        f"item-{first}": "on",
        f"pos-{first}": "3",
        f"item-{second}": "on",
        f"pos-{second}": "1",
        f"item-{third}": "on",
        f"pos-{third}": "2",
        "action": "save",
        **extra,
    }
    response = client.post("/admin/editions/new", data=fields)
    assert response.status_code == 303, response.text
    return int(re.search(r"/admin/editions/(\d+)", response.headers["location"]).group(1))  # type: ignore[union-attr]


def test_a_letter_is_composed_with_its_items_in_the_chosen_order(
    site: StaffSite, editor: TestClient
) -> None:
    edition_id = _compose(editor, site)
    first, second, third = _item_ids(site)[:3]
    with site.session() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None and edition.status == "draft"
        assert [link.item_id for link in edition.items] == [second, third, first]
    page = editor.get(f"/admin/editions/{edition_id}?done=saved")
    assert "La lettre est enregistrée." in page.text
    assert (
        'sandbox=""' in page.text and f"/admin/editions/{edition_id}/frame?width=375" in page.text
    )
    # The email frame may be framed by dispatch's own page, and by nothing else.
    frame = editor.get(f"/admin/editions/{edition_id}/frame", params={"width": 375})
    assert frame.status_code == 200 and "La lettre de décembre" in frame.text
    assert "frame-ancestors 'self'" in frame.headers["Content-Security-Policy"]
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_form_shows_what_is_wrong_and_keeps_what_was_typed(
    site: StaffSite, editor: TestClient
) -> None:
    page = editor.get("/admin/editions/new")
    response = editor.post(
        "/admin/editions/new",
        data={"csrf_token": csrf_of(page.text), "subject": "", "intro": "Gardé", "action": "save"},
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert "Choisissez au moins un contenu." in response.text
    assert "Gardé" in response.text and 'aria-invalid="true"' in response.text


def test_moving_an_item_and_previewing_the_intro_save_nothing(
    site: StaffSite, editor: TestClient
) -> None:
    first, second = _item_ids(site)[:2]
    page = editor.get("/admin/editions/new")
    before = editor.get("/admin/editions").text.count("<tr>")
    response = editor.post(
        "/admin/editions/new",
        data={
            "csrf_token": csrf_of(page.text),
            "subject": "S",
            "intro": "Un **gras**",
            f"item-{first}": "on",
            f"pos-{first}": "1",
            f"item-{second}": "on",
            f"pos-{second}": "2",
            "move": f"down-{first}",
        },
    )
    assert response.status_code == 200
    assert "<strong>gras</strong>" in response.text  # the Markdown preview
    assert re.search(rf'id="pos-{second}" name="pos-{second}" value="1"', response.text)
    assert editor.get("/admin/editions").text.count("<tr>") == before


def test_who_will_receive_it_is_counted_by_language_and_topic(
    site: StaffSite, editor: TestClient
) -> None:
    edition_id = _compose(editor, site)
    page = editor.get(f"/admin/editions/{edition_id}").text
    # Every reachable reader (the unsubscribed one left out): 2 French, 2 English.
    assert "4 abonné·es, si elle partait maintenant." in page.replace("\u202f", " ")
    assert re.search(r"Français\s*:\s*<strong>2</strong>", page)
    assert re.search(r"Anglais\s*:\s*<strong>2</strong>", page)
    assert re.search(r"Agenda\s*:\s*<strong>1</strong>", page)


def test_a_test_send_lands_in_the_outbox(site: StaffSite) -> None:
    author = site.browser("author")
    edition_id = _compose(author, site)
    page = author.get(f"/admin/editions/{edition_id}")
    assert "Envoyer le test" in page.text
    assert "Programmer" not in page.text and "Envoyer maintenant" not in page.text
    sent = author.post(
        f"/admin/editions/{edition_id}/test-send",
        data={"csrf_token": csrf_of(page.text), "to-author@example.org": "on"},
    )
    assert sent.status_code == 200
    assert "Test envoyé à author@example.org." in sent.text
    outbox = list(site.settings.mail_outbox_dir.glob("*.eml"))
    assert any(b"author@example.org" in path.read_bytes() for path in outbox)
    # Only staff addresses: a reader's address is refused.
    refused = author.post(
        f"/admin/editions/{edition_id}/test-send",
        data={"csrf_token": csrf_of(page.text), "to-ana@example.org": "on"},
    )
    assert refused.status_code == 400


@pytest.mark.parametrize("action", ["schedule", "send", "pause", "resume", "cancel"])
def test_an_author_cannot_send_and_a_viewer_changes_nothing(site: StaffSite, action: str) -> None:
    editor = site.browser("editor")
    edition_id = _compose(editor, site)
    for role in ("author", "viewer"):
        client = site.browser(role)
        page = client.get(f"/admin/editions/{edition_id}")
        assert page.status_code == 200
        assert f"/admin/editions/{edition_id}/{action}" not in page.text
        refused = client.post(
            f"/admin/editions/{edition_id}/{action}",
            data={
                "csrf_token": csrf_of(page.text),
                "confirmed": "yes",
                "day": "2030-01-01",
                "time": "09:00",
            },
        )
        assert refused.status_code == 403
    viewer = site.browser("viewer")
    page = viewer.get(f"/admin/editions/{edition_id}")
    assert "Enregistrer le brouillon" not in page.text and "Envoyer le test" not in page.text
    token = csrf_of(page.text)  # the logout form's
    assert (
        viewer.post(f"/admin/editions/{edition_id}", data={"csrf_token": token}).status_code == 403
    )
    assert viewer.get("/admin/editions/new").status_code == 403
    with site.session() as session:
        assert session.get(Edition, edition_id).status == "draft"  # type: ignore[union-attr]


def test_scheduling_asks_for_confirmation_then_the_number_for_a_large_audience(
    site: StaffSite, editor: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    edition_id = _compose(editor, site)
    token = csrf_of(editor.get(f"/admin/editions/{edition_id}").text)
    when = {"day": (utcnow() + timedelta(days=3)).strftime("%Y-%m-%d"), "time": "09:00"}
    asked = editor.post(
        f"/admin/editions/{edition_id}/schedule", data={"csrf_token": token, **when}
    )
    assert asked.status_code == 200 and "Programmer cette lettre ?" in asked.text.replace(
        "\u202f", " "
    )
    assert "pour 4 abonné·es" in asked.text and "9 h 00" in asked.text.replace("\xa0", " ")
    monkeypatch.setattr(sending, "CONFIRM_BY_NUMBER", 3)
    wrong = editor.post(
        f"/admin/editions/{edition_id}/schedule",
        data={"csrf_token": token, "confirmed": "yes", "count": "3", **when},
    )
    assert wrong.status_code == 400
    with site.session() as session:
        assert session.get(Edition, edition_id).status == "draft"  # type: ignore[union-attr]
    done = editor.post(
        f"/admin/editions/{edition_id}/schedule",
        data={"csrf_token": token, "confirmed": "yes", "count": "4", **when},
    )
    assert done.status_code == 303
    page = editor.get(done.headers["location"]).text.replace("\xa0", " ")
    assert "La lettre est programmée." in page and "9 h 00" in page
    assert "T" not in re.sub(r"<[^>]+>|[^0-9T:-]", "", page.split("Partira")[1][:60])


def test_sending_shows_progress_then_results_per_language(
    site: StaffSite, editor: TestClient
) -> None:
    edition_id = _compose(editor, site)
    token = csrf_of(editor.get(f"/admin/editions/{edition_id}").text)
    site.doorbell.clear()
    sent = editor.post(
        f"/admin/editions/{edition_id}/send", data={"csrf_token": token, "confirmed": "yes"}
    )
    assert sent.status_code == 303
    assert ("delivery.send_batch", (edition_id,)) in site.doorbell
    status = editor.get(f"/admin/editions/{edition_id}/status.json").json()
    assert (
        status["queued"] == 4
        and status["sent"] == 0
        and status["status_label"] == "En cours d’envoi"
    )
    with site.session() as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.edition_id == edition_id)))
        for row in rows:
            row.status, row.sent_at = "sent", utcnow() - timedelta(minutes=5)
        rows[0].status = "failed"
        session.add(BounceEvent(delivery_id=rows[1].id, kind="hard", source_ref=f"t{edition_id}"))
        edition = session.get(Edition, edition_id)
        assert edition is not None
        edition.status, edition.finished_at = "sent", utcnow()
        from dispatch.audience.models import Subscriber

        leaver = session.get(Subscriber, rows[2].subscriber_id)
        assert leaver is not None
        unsubscribe(session, site.settings, leaver, Origin("web unsubscribe page"))
        session.commit()
    page = editor.get(f"/admin/editions/{edition_id}").text
    assert "Résultats" in page
    total = re.search(r'<tr class="total">(.*?)</tr>', page, re.S)
    assert total is not None
    cells = re.findall(r"<td[^>]*>(\d+)</td>", total.group(1))
    assert cells == ["2", "1", "1", "0", "1"]  # delivered, failed, bounced, complaints, unsubs.
    assert f"/admin/editions/{edition_id}/send" not in page


def test_previews_as_a_given_subscriber_and_in_the_other_language(
    site: StaffSite, editor: TestClient
) -> None:
    edition_id = _compose(editor, site)
    page = editor.get(
        f"/admin/editions/{edition_id}", params={"preview": "en", "as": "cy@example.org"}
    )
    assert "locale=en&amp;as=cy%40example.org" in page.text
    frame = editor.get(
        f"/admin/editions/{edition_id}/frame", params={"locale": "en", "as": "cy@example.org"}
    )
    assert frame.status_code == 200 and 'lang="en"' in frame.text
    unknown = editor.get(f"/admin/editions/{edition_id}/frame", params={"as": "nobody@example.org"})
    assert unknown.status_code == 400 and "No subscriber" in unknown.text


def test_a_staff_member_who_reads_english_gets_english_words_and_dates(site: StaffSite) -> None:
    from dispatch.staff.accounts import find

    with site.session() as session:
        owner = find(session, "owner@example.org")
        assert owner is not None
        owner.language = "en"
        session.commit()
    client = site.browser("owner")
    edition_id = _compose(client, site)
    token = csrf_of(client.get(f"/admin/editions/{edition_id}").text)
    asked = client.post(
        f"/admin/editions/{edition_id}/schedule",
        data={"csrf_token": token, "day": "2030-12-03", "time": "09:00"},
    )
    text = asked.text.replace("\u202f", " ")
    assert "Schedule this letter?" in text
    assert "Tuesday, December 3, 2030, 9:00 AM" in text
    assert re.search(r"to \d subscribers", text)


def test_the_page_counts_each_item_s_readers_and_keeps_the_send_whole_choice(
    site: StaffSite, editor: TestClient
) -> None:
    from dispatch.audience.models import Receipt

    with site.session() as session:
        reader = factories.subscriber(session, email="eve@example.org").id
        session.commit()
    edition_id = _compose(editor, site)
    first = _item_ids(site)[0]

    def reach(edition: int) -> list[str]:
        page = editor.get(f"/admin/editions/{edition}")
        assert "Destinataires par contenu" in page.text and 'name="send_whole"' in page.text
        return re.findall(r'data-label="Destinataires">(\d+)<', page.text)

    total = reach(edition_id)[0]
    assert reach(edition_id) == [total] * 3  # every reachable subscriber, each item
    with site.session() as session:
        earlier = factories.edition(session, items=[])
        session.add(
            Receipt(subscriber_id=reader, item_id=first, edition_id=earlier.id, channel="alert")
        )
        session.commit()
    assert sorted(reach(edition_id)) == sorted([str(int(total) - 1), total, total])

    whole_id = _compose(editor, site, send_whole="on")  # eve's receipt does not count then
    with site.session() as session:
        assert session.get(Edition, whole_id).send_whole is True  # type: ignore[union-attr]
    assert reach(whole_id) == [total] * 3
    assert "Envoyée entière" in editor.get(f"/admin/editions/{whole_id}").text


def _form_fields(html: str) -> list[tuple[str, str]]:
    """What a browser posts back from the compose form as it is shown: text fields, ticked
    boxes and position numbers (the form's own state, to change one part of it)."""
    fields = [("csrf_token", csrf_of(html))]
    texts = ("subject", "preheader", "subject_en", "preheader_en")
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        if name.startswith("pos-") or name in texts:
            fields.append((name, value))
    for tag in re.findall(r"<input[^>]*checked[^>]*>", html):
        found = re.search(r'name="([^"]+)"', tag)
        if found:
            fields.append((found.group(1), "on"))
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', html):
        fields.append((name, text.strip()))
    return fields


def _post(client: TestClient, action: str, fields: list[tuple[str, str]]) -> Any:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return client.post(action, content=urlencode(fields), headers=headers)


def test_a_draft_s_topics_and_english_version_change_from_its_page(
    site: StaffSite, editor: TestClient
) -> None:
    edition_id = _compose(editor, site)
    page = f"/admin/editions/{edition_id}"
    shown = editor.get(page).text
    assert 'name="topic-agenda"' in shown  # the topics can still be chosen on a draft
    fields = [(k, v) for k, v in _form_fields(shown) if not k.startswith("topic-")]
    saved = _post(editor, page, [*fields, ("topic-agenda", "on"), ("action", "save")])
    assert saved.status_code == 303, saved.text
    with site.session() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None and edition.audience == {"topics": ["agenda"]}
        assert edition.translations["en"]["subject"] == "The December letter"
    # Only di follows Agenda: the count says so before anything is sent.
    assert "1 abonné·e, si elle partait maintenant." in editor.get(page).text.replace("\u202f", " ")

    # Half an English version is refused; emptying it sends English readers the French one.
    fields = [(k, v) for k, v in _form_fields(editor.get(page).text) if k != "subject_en"]
    half = _post(editor, page, [*fields, ("intro_en", "Hello"), ("action", "save")])
    assert half.status_code == 400
    assert "Donnez un objet à la version anglaise" in half.text.replace("\u202f", " ")
    fields = [
        (k, v)
        for k, v in _form_fields(editor.get(page).text)
        if not k.endswith("_en") and not k.startswith("topic-")
    ]
    emptied = _post(editor, page, [*fields, ("action", "save")])
    assert emptied.status_code == 303
    with site.session() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None and edition.translations == {} and edition.audience == {}


def test_items_to_choose_say_their_day_and_whether_they_wait_on_the_desk(
    site: StaffSite, editor: TestClient
) -> None:
    from dispatch.content.models import DeskDecision

    with site.session() as session:
        waiting = factories.item(session, title="Une controverse en attente")
        session.add(DeskDecision(item_id=waiting.id, policy="approval", state="pending"))
        session.commit()
    page = editor.get("/admin/editions/new").text.replace("\u202f", " ").replace("\xa0", " ")
    row = page[page.index("Une controverse en attente") :].split("</tr>", 1)[0]
    assert "attend au pupitre" in row
    assert re.search(r"(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d", row)
    # The item's title is its checkbox's label: tapping it ticks the box.
    assert f'<label for="item-{waiting.id}" class="item-title">' in page


def test_a_letter_whose_time_has_passed_unstarted_says_so(
    site: StaffSite, editor: TestClient
) -> None:
    with site.session() as session:
        late = factories.edition(
            session,
            subject="Restée à quai",
            status="scheduled",
            send_at=utcnow() - timedelta(minutes=10),
        ).id
        session.commit()
    warning = "n’est pas partie : les workers et beat tournent-ils"
    page = plain(editor.get(f"/admin/editions/{late}").text)
    assert "Devait partir le" in page and warning in page
    assert warning in plain(editor.get("/admin/").text)
    with site.session() as session:  # not left for the other tests' sweeps to start
        edition = session.get(Edition, late)
        assert edition is not None
        edition.status = "cancelled"
        session.commit()


def test_sections_are_titled_on_the_form_and_shown_in_the_preview(
    site: StaffSite, editor: TestClient
) -> None:
    first, second, third = _item_ids(site)[:3]
    edition_id = _compose(
        editor,
        site,
        **{f"heading-{third}": "À lire aussi", f"heading_en-{third}": "Also worth reading"},
    )
    with site.session() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        assert {link.item_id: link.heading for link in edition.items} == {
            second: None,
            third: {"fr": "À lire aussi", "en": "Also worth reading"},
            first: None,
        }
    page = editor.get(f"/admin/editions/{edition_id}").text
    assert f'name="heading-{third}" maxlength="120" value="À lire aussi"' in page
    french = editor.get(f"/admin/editions/{edition_id}/frame", params={"width": 600}).text
    assert "À lire aussi" in french and "Also worth reading" not in french
    english = editor.get(
        f"/admin/editions/{edition_id}/frame", params={"width": 600, "locale": "en"}
    ).text
    assert "Also worth reading" in english

    # An English version without the English title is sent back with what to do.
    page = editor.get("/admin/editions/new")
    refused = editor.post(
        "/admin/editions/new",
        data={
            "csrf_token": csrf_of(page.text),
            "subject": "S",
            "subject_en": "S en",
            f"item-{first}": "on",
            f"heading-{first}": "Agenda",
            "action": "save",
        },
    )
    assert refused.status_code == 400
    assert "Donnez aussi un titre anglais à chaque rubrique" in plain(refused.text)
