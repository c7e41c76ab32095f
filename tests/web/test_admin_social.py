"""Social pages through the real app: the approval queue and the accounts, with the fake
Mastodon as the network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from dispatch.config import (
    AppSettings,
    DatabaseSettings,
    SocialSettings,
    WebSettings,
    build_settings,
)
from dispatch.content import publications
from dispatch.db import make_engine, session_scope
from dispatch.social import accounts, publishing, service
from dispatch.social.models import SocialAccount, SocialPost
from tests import factories
from tests.social.fakes import FakeMastodon
from tests.web.staffsite import StaffSite, csrf_of, populate

PASSWORDLIKE = "mastodon-token"


@pytest.fixture(scope="module")
def mastodon() -> Iterator[FakeMastodon]:
    fake = FakeMastodon(token=PASSWORDLIKE)
    with fake:
        yield fake


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffSite]:
    folder: Path = tmp_path_factory.mktemp("admin-social")
    url = f"sqlite:///{folder / 'staff.sqlite3'}"
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url="http://testserver"),
        database=DatabaseSettings(url=url),
        web=WebSettings(form_min_seconds=0),
        social=SocialSettings(credentials_key=Fernet.generate_key().decode()),
    )
    built = populate(StaffSite(settings, make_engine(url)))
    with built.session() as session:
        factories.topic(session, "blog", name_fr="Le blog", name_en="The blog")
        session.commit()
    yield built
    built.engine.dispose()


def _post(client: TestClient, path: str, **fields: str) -> Response:
    token = csrf_of(client.get("/admin/social").text)
    return client.post(path, data={"csrf_token": token, **fields})


def _add_account(site: StaffSite, client: TestClient, mastodon: FakeMastodon) -> int:
    response = _post(
        client, "/admin/social/accounts",
        network="mastodon", name="La 27e sur Mastodon", base_url=mastodon.url, mode="approval",
        delay_minutes="0", language="fr", **{"mastodon-access_token": PASSWORDLIKE},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    with site.session() as session:
        account = session.scalars(select(SocialAccount).order_by(SocialAccount.id.desc())).first()
        assert account is not None
        return account.id


def _new_post(site: StaffSite, title: str) -> int:
    with session_scope(site.app.state.sessions) as session:
        item = factories.item(session, title=title, topics=["blog"])
        publications.fire_publication(session, item.id)
    with session_scope(site.app.state.sessions) as session:
        posts = service.consume_publications(session, site.settings)
        assert posts, "the account prepared no post"
        return posts[-1].id


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> TestClient:
    return site.browser("editor")


@pytest.fixture(scope="module")
def account_id(site: StaffSite, editor: TestClient, mastodon: FakeMastodon) -> int:
    return _add_account(site, editor, mastodon)


def test_an_account_keeps_its_secret_encrypted_and_never_shows_it(
    site: StaffSite, editor: TestClient, account_id: int
) -> None:
    page = editor.get("/admin/social/accounts").text
    assert "La 27e sur Mastodon" in page and PASSWORDLIKE not in page
    assert PASSWORDLIKE not in editor.get(f"/admin/social/accounts/{account_id}").text
    with site.session() as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None and account.credentials
        assert PASSWORDLIKE.encode() not in account.credentials
        assert accounts.load_credentials(account, site.settings)["access_token"] == PASSWORDLIKE
    assert "social.account_added" in [a for a, _ in site.audit_actions()]


def test_approving_from_the_queue_publishes_to_the_network(
    site: StaffSite, editor: TestClient, account_id: int, mastodon: FakeMastodon
) -> None:
    post_id = _new_post(site, "Dépliez l’évaluation des politiques publiques")
    queue = editor.get("/admin/social").text
    assert f'id="post-{post_id}"' in queue
    assert "/ 500 caractères" in queue  # the network's count beside its limit
    rings = len(site.doorbell)
    approved = _post(editor, f"/admin/social/posts/{post_id}/approve")
    assert approved.status_code == 303
    assert ("social.publish_post", (post_id,)) in site.doorbell[rings:]
    assert "Le post est approuvé" in editor.get(approved.headers["location"]).text
    # What the worker does when the doorbell rings.
    outcome = publishing.publish_post(
        post_id,
        settings=site.settings,
        scope=lambda: session_scope(site.app.state.sessions),
        sleep=lambda seconds: None,
    )
    assert outcome.published, outcome.message
    assert [s["text"] for s in mastodon.statuses][-1].startswith("Dépliez l’évaluation")
    assert "social.post_approved" in [a for a, _ in site.audit_actions()]


def test_edit_refuses_a_text_over_the_limit_and_schedule_reads_paris_time(
    site: StaffSite, editor: TestClient, account_id: int
) -> None:
    post_id = _new_post(site, "Un atelier à Lyon")
    too_long = _post(editor, f"/admin/social/posts/{post_id}/edit", text="mot " * 200)
    assert too_long.status_code == 400
    assert "too long by" in too_long.text or "trop long de" in too_long.text
    saved = _post(editor, f"/admin/social/posts/{post_id}/edit", text="Venez à l’atelier !")
    assert saved.status_code == 303
    scheduled = _post(
        editor, f"/admin/social/posts/{post_id}/schedule", date="2036-12-01", time="09:00"
    )
    assert scheduled.status_code == 303
    with site.session() as session:
        post = session.get(SocialPost, post_id)
        assert post is not None and post.status == "scheduled"
        assert post.text == "Venez à l’atelier\u202f!"  # French spacing before "!"
        assert post.scheduled_at is not None
        local = post.scheduled_at.astimezone(ZoneInfo("Europe/Paris"))
        assert (local.hour, local.minute, local.day) == (9, 0, 1)
    assert "lundi 1er décembre 2036, 9\u00a0h\u00a000" in editor.get("/admin/social").text
    cancelled = _post(editor, f"/admin/social/posts/{post_id}/cancel")
    assert cancelled.status_code == 303


def test_account_mode_delay_topics_and_disabling(
    site: StaffSite, editor: TestClient, account_id: int
) -> None:
    path = f"/admin/social/accounts/{account_id}"
    saved = _post(
        editor, path, mode="automatic", delay_minutes="15", language="en", **{"topic-blog": "on"}
    )
    assert saved.status_code == 303
    refused = _post(editor, path, mode="sometimes", delay_minutes="0", language="fr")
    assert refused.status_code == 400
    off = _post(editor, f"{path}/enabled")
    assert off.status_code == 303
    with site.session() as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        assert (account.mode, account.delay_minutes, account.language) == ("automatic", 15, "en")
        assert [t.slug for t in account.topics] == ["blog"] and not account.enabled
    _post(editor, f"{path}/enabled", enabled="on")
    actions = [a for a, _ in site.audit_actions()]
    assert {"social.account_changed", "social.account_disabled", "social.account_enabled"} <= set(
        actions
    )
    _post(editor, path, mode="approval", delay_minutes="0", language="fr")


def test_who_may_do_what(site: StaffSite, account_id: int) -> None:
    post_id = _new_post(site, "Un billet pour les rôles")
    viewer, author = site.browser("viewer"), site.browser("author")
    seen = viewer.get("/admin/social").text
    assert f'id="post-{post_id}"' in seen
    assert "/approve" not in seen and "<textarea" not in seen
    assert "Ajouter un compte" not in viewer.get("/admin/social/accounts").text
    for client in (viewer, author):
        for action in ("approve", "publish", "cancel"):
            response = _post(client, f"/admin/social/posts/{post_id}/{action}")
            assert response.status_code == 403, action
    assert _post(viewer, f"/admin/social/posts/{post_id}/edit", text="x").status_code == 403
    by_author = author.get("/admin/social").text
    assert "<textarea" in by_author and "/approve" not in by_author
    edited = _post(author, f"/admin/social/posts/{post_id}/edit", text="Relu par l’autrice.")
    assert edited.status_code == 303
