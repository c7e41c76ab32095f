"""Staff pages: the items list and its filters, an item and where it went, curated picks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.audience.models import Receipt
from dispatch.content.models import ContentItem
from dispatch.db import utcnow
from dispatch.social.models import SocialAccount, SocialPost
from tests import factories
from tests.web.staffsite import StaffSite, plain, post_form, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-items")):
        with built.session() as session:
            for slug in ("onaime", "controverse", "mustread"):
                factories.topic(session, slug, name_fr=f"On {slug}", name_en=slug.title())
            blog = factories.source(session, name="Le blog de la 27e")
            sent = factories.item(
                session,
                title="Dépliez l’évaluation",
                source=blog,
                topics=["blog"],
                published_at=utcnow() - timedelta(hours=1),
            )
            factories.item(
                session,
                title="Un vieux billet",
                source=blog,
                published_at=utcnow() - timedelta(days=40),
            )
            factories.event(
                session,
                utcnow() + timedelta(days=3),
                title="Atelier du jeudi",
                published_at=utcnow() - timedelta(hours=2),  # not the factory's running hours
            )
            letter = factories.edition(session, subject="La lettre de décembre", items=[sent])
            reader = factories.subscriber(session)
            session.add(
                Receipt(
                    subscriber_id=reader.id,
                    item_id=sent.id,
                    edition_id=letter.id,
                    channel="newsletter",
                )
            )
            account = SocialAccount(network="mastodon", name="La 27e", handle="@la27e")
            session.add(account)
            session.flush()
            session.add(
                SocialPost(
                    account_id=account.id,
                    item_id=sent.id,
                    status="published",
                    text="Dépliez",
                    idempotency_key="post-1",
                    remote_url="https://mastodon.example/@la27e/1",
                    published_at=utcnow(),
                )
            )
            session.commit()
        yield built


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> TestClient:
    return site.browser("editor")


def _item(site: StaffSite, title: str) -> ContentItem:
    with site.session() as session:
        found = session.scalar(select(ContentItem).where(ContentItem.title == title))
        assert found is not None
        session.expunge(found)
        return found


def test_items_are_listed_and_filtered_in_french(editor: TestClient, site: StaffSite) -> None:
    everything = editor.get("/admin/items")
    assert everything.status_code == 200
    assert "Dépliez l’évaluation" in plain(everything.text)
    assert "Atelier du jeudi" in plain(everything.text)
    assert '<td data-label="Type">Évènement</td>' in plain(everything.text)
    events = editor.get("/admin/items", params={"kind": "event"})
    assert "Atelier du jeudi" in plain(events.text) and "Un vieux billet" not in plain(events.text)
    found = editor.get("/admin/items", params={"q": "vieux"})
    assert "Un vieux billet" in plain(found.text) and "Atelier du jeudi" not in plain(found.text)
    recent = editor.get(
        "/admin/items", params={"since": (utcnow() - timedelta(days=7)).date().isoformat()}
    )
    assert "Un vieux billet" not in plain(recent.text) and "Atelier du jeudi" in plain(recent.text)
    blog = _item(site, "Un vieux billet").source_id
    by_source = editor.get("/admin/items", params={"source": blog})
    assert "Un vieux billet" in plain(by_source.text) and "Atelier du jeudi" not in plain(
        by_source.text
    )
    assert editor.get("/admin/items", params={"topic": "nope"}).status_code == 200


def test_an_item_shows_where_it_went_and_links_to_the_desk(
    editor: TestClient, site: StaffSite
) -> None:
    item = _item(site, "Dépliez l’évaluation")
    response = editor.get(f"/admin/items/{item.id}")
    assert response.status_code == 200
    assert "La lettre de décembre" in plain(response.text)
    assert f'href="/admin/desk/{item.id}"' in plain(response.text)
    assert "Décider sur le pupitre" in plain(response.text)
    assert "https://mastodon.example/@la27e/1" in plain(response.text)
    assert "Le blog de la 27e" in plain(response.text)
    assert "1 personne l’a reçu." in plain(response.text)
    assert editor.get("/admin/items/9999").status_code == 404


def test_a_pick_is_added_changed_and_deleted_with_audit_rows(
    editor: TestClient, site: StaffSite
) -> None:
    fields = {
        "url": "https://podcast.example/episode-12",
        "title": "Un podcast sur l’action publique",
        "tag": "onaime",
        "comment": "À écouter dans le train.",
        "image_url": "https://podcast.example/cover.jpg",
        "image_alt": "",
    }
    refused = post_form(editor, "/admin/items/picks/new", "/admin/items/picks", fields)
    assert refused.status_code == 400
    assert "Décrivez l’image" in plain(
        refused.text
    )  # the alternative text is required with an image
    fields["image_alt"] = "La pochette : un micro sur fond jaune"
    added = post_form(editor, "/admin/items/picks/new", "/admin/items/picks", fields)
    assert added.status_code == 303
    page = editor.get(added.headers["location"])
    assert "La sélection est ajoutée." in plain(page.text)
    pick = _item(site, "Un podcast sur l’action publique")
    assert pick.kind == "pick" and pick.image_alt == "La pochette : un micro sur fond jaune"
    again = post_form(editor, "/admin/items/picks/new", "/admin/items/picks", fields)
    assert again.status_code == 400 and "déjà" in plain(again.text)

    changed = post_form(
        editor,
        f"/admin/items/{pick.id}",
        f"/admin/items/{pick.id}/pick",
        {**fields, "tag": "controverse", "image_url": "", "image_alt": ""},
    )
    assert changed.status_code == 303
    changed_item = _item(site, "Un podcast sur l’action publique")
    assert changed_item.tag == "controverse" and changed_item.image_url is None

    confirm = editor.get(f"/admin/items/{pick.id}/delete")
    assert confirm.status_code == 200 and "Supprimer la sélection" in plain(confirm.text)
    deleted = post_form(editor, f"/admin/items/{pick.id}/delete", f"/admin/items/{pick.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"].startswith("/admin/items?")
    assert editor.get(f"/admin/items/{pick.id}").status_code == 404
    actions = [a for a, who in site.audit_actions() if who == "editor@example.org"]
    assert actions[-3:] == ["pick.added", "pick.changed", "pick.deleted"]


def test_a_pick_that_went_out_is_withdrawn_not_deleted(editor: TestClient, site: StaffSite) -> None:
    with site.session() as session:
        from dispatch.content import items

        pick = items.add_pick(
            session, url="https://example.org/sent-pick", title="Déjà envoyée", tag="mustread"
        )
        factories.edition(session, subject="Alerte", kind="alert", items=[pick])
        session.commit()
        pick_id = pick.id
    answer = post_form(editor, f"/admin/items/{pick_id}/delete", f"/admin/items/{pick_id}/delete")
    assert answer.status_code == 303
    page = editor.get(answer.headers["location"])
    assert "retirée" in plain(page.text) and "Alerte" in plain(page.text)
    assert _item(site, "Déjà envoyée").status == "unpublished"


def test_a_viewer_sees_items_but_cannot_change_picks(site: StaffSite) -> None:
    viewer = site.browser("viewer")
    listing = viewer.get("/admin/items")
    assert listing.status_code == 200
    assert "/admin/items/picks/new" not in plain(listing.text)
    assert viewer.get("/admin/items/picks/new").status_code == 403
    token = listing.text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = viewer.post(
        "/admin/items/picks",
        data={"csrf_token": token, "url": "https://x.example/", "title": "x", "tag": "onaime"},
    )
    assert refused.status_code == 403
    assert _count_picks(site, "https://x.example/") == 0


def _count_picks(site: StaffSite, url: str) -> int:
    with site.session() as session:
        return len(session.scalars(select(ContentItem).where(ContentItem.url == url)).all())
