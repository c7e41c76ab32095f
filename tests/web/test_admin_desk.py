"""/admin/desk: what awaits a decision, approving and holding from the page, editing a post's
text before approval, and the topics' policies; each role sees what it may do."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from dispatch.content import desk, publications
from dispatch.social import service as social
from dispatch.social.models import SocialPost
from tests import factories
from tests.web.staffsite import StaffSite, csrf_of, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-desk")):
        with built.session() as session:
            factories.topic(session, "blog", desk_policy="approval", name_fr="Articles du blog")
            social.add_account(
                session,
                built.settings,
                social.AccountSpec(
                    network="mastodon", name="Masto", base_url="https://m.example", mode="automatic"
                ),
            )
            session.commit()
        yield built


def _pending(site: StaffSite, title: str) -> int:
    with site.session() as session:
        item = factories.item(session, topics=["blog"], title=title)
        publications.fire_publication(session, item.id)
        social.consume_publications(session, site.settings)
        session.commit()
        return item.id


def _post_of(site: StaffSite, item_id: int) -> SocialPost:
    with site.session() as session:
        [post] = session.query(SocialPost).filter_by(item_id=item_id).all()
        session.expunge(post)
        return post


def test_an_editor_edits_the_text_then_approves_all_but_the_digest(site: StaffSite) -> None:
    item_id = _pending(site, "Billet à approuver")
    post = _post_of(site, item_id)
    editor = site.browser("editor")
    page = editor.get("/admin/desk")
    assert page.status_code == 200
    assert "Billet à approuver" in page.text and "En attente de décision" in page.text
    assert re.search(r"\d+ caractères sur 500, comptés comme le fait mastodon", page.text)
    token = csrf_of(page.text)
    fields = {
        "csrf_token": token,
        "channel-alert": "on",
        "channel-letter": "on",
        f"channel-social:{post.account_id}": "on",
    }

    too_long = editor.post(
        f"/admin/desk/{item_id}", data={**fields, "action": "approve", f"text-{post.id}": "x" * 600}
    )
    assert too_long.status_code == 400
    assert "Ce texte ne peut pas être publié" in too_long.text
    assert 'aria-invalid="true"' in too_long.text and "x" * 600 in too_long.text
    with site.session() as session:
        assert desk.decision_of(session, item_id).state == "pending"  # type: ignore[union-attr]

    done = editor.post(
        f"/admin/desk/{item_id}",
        data={**fields, "action": "approve", f"text-{post.id}": "Un texte choisi #blog"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/desk?done=approved"
    shown = editor.get(done.headers["location"])
    assert "Diffusé\u00a0: les canaux cochés diffuseront ce contenu." in shown.text
    assert "Rien n’attend de décision." in shown.text
    with site.session() as session:
        decision = desk.decision_of(session, item_id)
        assert decision is not None and decision.state == "approved"
        assert decision.decided_by == "editor@example.org"
        assert desk.released(session, [item_id], "alert") == {item_id}
        assert desk.released(session, [item_id], "digest") == set()
    after = _post_of(site, item_id)
    assert after.text == "Un texte choisi #blog" and after.status == "scheduled"
    assert ("desk.approved", "editor@example.org") in site.audit_actions()
    assert ("social.post_edited", "editor@example.org") in site.audit_actions()


def test_hold_cancels_the_post_and_authors_and_viewers_cannot_decide(site: StaffSite) -> None:
    item_id = _pending(site, "Billet à retenir")
    author, viewer = site.browser("author"), site.browser("viewer")
    seen = viewer.get("/admin/desk")
    assert "Billet à retenir" in seen.text and "Approuver les canaux cochés" not in seen.text
    refused = author.post(
        f"/admin/desk/{item_id}",
        data={"csrf_token": csrf_of(author.get("/admin/desk").text), "action": "hold"},
    )
    assert refused.status_code == 403

    editor = site.browser("editor")
    token = csrf_of(editor.get("/admin/desk").text)
    stale = editor.post(f"/admin/desk/{item_id}", data={"csrf_token": "x", "action": "hold"})
    assert stale.status_code == 400
    held = editor.post(f"/admin/desk/{item_id}", data={"csrf_token": token, "action": "hold"})
    assert held.headers["location"] == "/admin/desk?done=held"
    assert "Retenu\u00a0: aucun canal" in editor.get(held.headers["location"]).text
    post = _post_of(site, item_id)
    assert post.status == "cancelled"


def test_owners_and_editors_change_the_topics_policies(site: StaffSite) -> None:
    author, editor = site.browser("author"), site.browser("editor")
    assert 'name="policy-blog"' not in author.get("/admin/desk").text
    page = editor.get("/admin/desk")
    assert 'name="policy-blog"' in page.text
    saved = editor.post(
        "/admin/desk/policies", data={"csrf_token": csrf_of(page.text), "policy-blog": "manual"}
    )
    assert saved.status_code == 303
    assert "Les règles des thèmes sont enregistrées" in editor.get(saved.headers["location"]).text
    with site.session() as session:
        assert factories.topic(session, "blog").desk_policy == "manual"
        session.commit()
    bad = editor.post(
        "/admin/desk/policies", data={"csrf_token": csrf_of(page.text), "policy-blog": "never"}
    )
    assert bad.status_code == 400 and "unknown policy" in bad.text
