"""Publishing posts through the claim → network → record boundary, against local servers.

Everything commits, as a worker would, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from dispatch.config import AppSettings, ContentSettings, SocialSettings, build_settings
from dispatch.content import publications
from dispatch.content.models import ContentItem
from dispatch.db import is_sqlite, session_scope, utcnow
from dispatch.social import accounts, publishing, service
from dispatch.social.demo import seed_social
from dispatch.social.models import SocialAccount, SocialPost
from dispatch.social.networks.linkedin import LinkedInPublisher, LinkedInToken
from dispatch.social.networks.mastodon import MastodonPublisher
from tests import factories
from tests.social.fakes import FakeLinkedIn, FakeMastodon, Scripted

FIXTURES = Path(__file__).parents[1] / "fixtures" / "social"
PNG = FIXTURES / "atelier.png"


@pytest.fixture
def mastodon():
    with FakeMastodon() as fake:
        yield fake


@pytest.fixture
def linkedin():
    with FakeLinkedIn() as fake:
        yield fake


@pytest.fixture
def images():
    """Serves tests/fixtures/social/ over HTTP on loopback."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(FIXTURES))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class World:
    """The test's database, settings and a way to run the publish boundary."""

    def __init__(self, sessions, settings):
        self.sessions = sessions
        self.settings = settings

    def scope(self):
        return session_scope(self.sessions)

    def add_account(self, **fields) -> int:
        with self.scope() as session:
            return service.add_account(session, self.settings, service.AccountSpec(**fields)).id

    def add_item(self, **fields) -> int:
        with self.scope() as session:
            item = factories.item(session, **fields)
            publications.fire_publication(session, item.id)
            return item.id

    def consume(self) -> list[int]:
        with self.scope() as session:
            return [p.id for p in service.consume_publications(session, self.settings)]

    def due(self, **kwargs) -> list[int]:
        with self.scope() as session:
            return publishing.due_post_ids(session, **kwargs)

    def publish(self, post_id: int, **kwargs) -> publishing.Outcome:
        kwargs.setdefault("sleep", lambda seconds: None)
        return publishing.publish_post(post_id, settings=self.settings, scope=self.scope, **kwargs)

    def post(self, post_id: int) -> dict:
        with self.scope() as session:
            return service.post_as_dict(service.get_post(session, post_id))

    def update_post(self, post_id: int, **values) -> None:
        with self.scope() as session:
            post = session.get(SocialPost, post_id)
            for name, value in values.items():
                setattr(post, name, value)


@pytest.fixture
def world(sessions, settings):
    return World(sessions, settings)


@pytest.fixture
def on_mastodon(world, mastodon, monkeypatch):
    """An automatic account on the fake Mastodon, with its token in the environment."""
    monkeypatch.setenv("DISPATCH_TEST_MASTODON_ACCESS_TOKEN", mastodon.token)
    world.add_account(
        network="mastodon",
        name="Mastodon",
        base_url=mastodon.url,
        mode="automatic",
        credentials_env="DISPATCH_TEST_MASTODON",
    )
    return world


def test_approved_post_is_published_with_remote_id_and_url(world, mastodon, monkeypatch):
    monkeypatch.setenv("DISPATCH_TEST_MASTODON_ACCESS_TOKEN", mastodon.token)
    world.add_account(
        network="mastodon",
        name="Mastodon",
        base_url=mastodon.url,
        mode="approval",
        credentials_env="DISPATCH_TEST_MASTODON",
    )
    world.add_item(title="Innovation publique\u00a0: et si on «\u202fdépliait\u202f» l’évaluation")
    [post_id] = world.consume()
    assert world.post(post_id)["status"] == "awaiting_approval"
    assert world.due() == []

    with world.scope() as session:
        service.approve_post(session, post_id, by="camille")
    assert world.due() == [post_id]
    outcome = world.publish(post_id)

    [status] = mastodon.statuses
    assert outcome.published and outcome.remote_url == status["url"]
    row = world.post(post_id)
    assert row["status"] == "published"
    assert row["remote_id"] == status["id"]
    assert row["remote_url"] == status["url"]
    assert row["published_at"] is not None and row["last_error"] is None
    assert "«\u202fdépliait\u202f»" in status["text"]
    # Published is final: a duplicated task message does nothing.
    assert world.publish(post_id).status == "published"
    assert world.due() == []
    assert len(mastodon.statuses) == 1


def test_rate_limit_reschedules_instead_of_failing(on_mastodon, mastodon):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    mastodon.fail_next.append(
        ("/api/v1/statuses", Scripted(429, {"error": "Too many requests"}, {"Retry-After": "120"}))
    )
    before = utcnow()
    outcome = world.publish(post_id)

    row = world.post(post_id)
    assert outcome.status == row["status"] == "scheduled"
    assert "rate limit" in row["last_error"] and "attempt 1 of" in row["last_error"]
    retry_at = datetime.fromisoformat(row["next_attempt_at"])
    assert before + timedelta(seconds=119) <= retry_at <= utcnow() + timedelta(seconds=121)
    assert mastodon.statuses == []
    assert world.due() == []
    assert world.due(now=retry_at + timedelta(seconds=1)) == [post_id]

    world.update_post(post_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert world.publish(post_id).published
    assert len(mastodon.statuses) == 1


def test_refusal_fails_with_the_networks_message(on_mastodon, mastodon):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    mastodon.max_characters = 20  # an instance with a far lower limit than 500

    outcome = world.publish(post_id)

    row = world.post(post_id)
    assert outcome.status == row["status"] == "failed"
    assert "Text character limit of 20 exceeded" in row["last_error"]
    assert "422" in row["last_error"]
    assert world.due() == []

    # Staff shorten it and approve it again: it goes out.
    with world.scope() as session:
        service.edit_post(session, post_id, "Court\u00a0!", world.settings)
        service.approve_post(session, post_id)
    assert world.publish(post_id).published
    assert [s["text"] for s in mastodon.statuses] == ["Court\u202f!"]  # French spacing


def test_crash_while_publishing_does_not_post_twice_on_mastodon(on_mastodon, mastodon):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    # The first worker created the status, then died before recording it.
    with world.scope() as session:
        post = session.get(SocialPost, post_id)
        first = MastodonPublisher(api_base_url=mastodon.url, access_token=mastodon.token).publish(
            service.rendered(session, post, world.settings), idempotency_key=post.idempotency_key
        )
    world.update_post(
        post_id, status="publishing", attempts=1, lease_until=utcnow() - timedelta(seconds=1)
    )

    assert world.due() == [post_id]
    assert world.publish(post_id).published

    assert len(mastodon.statuses) == 1
    assert world.post(post_id)["remote_id"] == first.remote_id


def test_a_live_lease_is_not_claimed_twice(on_mastodon, mastodon):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    world.update_post(post_id, status="publishing", lease_until=utcnow() + timedelta(minutes=5))
    assert world.due() == []
    outcome = world.publish(post_id, force=True)
    assert outcome.status == "publishing" and "another worker" in outcome.message
    assert mastodon.statuses == []


@pytest.fixture
def on_linkedin(world, linkedin, tmp_path):
    key = Fernet.generate_key().decode()
    world.settings = build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        social=SocialSettings(credentials_key=SecretStr(key)),
    )
    world.add_account(
        network="linkedin",
        name="LinkedIn",
        base_url=linkedin.url,
        handle="2414183",
        mode="automatic",
        credentials={
            "access_token": "li-token",
            "refresh_token": "li-refresh",
            "client_id": "client",
            "client_secret": "client-secret",
        },
    )
    return world


def test_crash_while_publishing_finds_the_linkedin_post(on_linkedin, linkedin):
    world = on_linkedin
    world.add_item(url="https://www.la27eregion.fr/atelier/")
    [post_id] = world.consume()
    with world.scope() as session:
        post = session.get(SocialPost, post_id)
        first = LinkedInPublisher(
            organization_id="2414183",
            token=LinkedInToken(access_token="li-token"),
            api_base=linkedin.url,
        ).publish(
            service.rendered(session, post, world.settings), idempotency_key=post.idempotency_key
        )
    world.update_post(
        post_id, status="publishing", attempts=1, lease_until=utcnow() - timedelta(minutes=1)
    )

    assert world.publish(post_id).published

    assert len(linkedin.posts) == 1
    assert world.post(post_id)["remote_id"] == first.remote_id


def test_linkedin_create_then_timeout_posts_once(on_linkedin, linkedin):
    world = on_linkedin
    world.add_item(url="https://www.la27eregion.fr/atelier-2/")
    [post_id] = world.consume()
    linkedin.stall_after_create = 1.0  # stores the post, then answers after the client gave up

    outcome = world.publish(post_id, timeout=0.3)

    assert outcome.published
    assert len(linkedin.posts) == 1
    assert world.post(post_id)["remote_id"] == linkedin.posts[0]["id"]


def test_refreshed_linkedin_token_is_stored_encrypted(on_linkedin, linkedin):
    world = on_linkedin
    with world.scope() as session:
        account = session.query(SocialAccount).one()
        account.token_expires_at = utcnow() + timedelta(seconds=30)  # about to expire
    world.add_item()
    [post_id] = world.consume()

    assert world.publish(post_id).published

    with world.scope() as session:
        account = session.query(SocialAccount).one()
        assert b"li-token-1" not in account.credentials
        stored = accounts.load_credentials(account, world.settings)
        assert account.token_expires_at > utcnow() + timedelta(days=59)
    assert stored["access_token"] == "li-token-1"  # the token the server handed out
    assert stored["refresh_token"] == "li-refresh"
    assert stored["client_secret"] == "client-secret"


def test_missing_credentials_fail_with_what_to_set(world):
    world.add_account(
        network="mastodon",
        name="Mastodon",
        base_url="https://mastodon.example",
        mode="automatic",
        credentials_env="DISPATCH_NOT_SET_ANYWHERE",
    )
    world.add_item()
    [post_id] = world.consume()
    outcome = world.publish(post_id)
    assert outcome.status == "failed"
    assert "DISPATCH_NOT_SET_ANYWHERE_ACCESS_TOKEN" in world.post(post_id)["last_error"]


def test_unpublished_or_cancelled_items_never_publish(on_mastodon, mastodon):
    world = on_mastodon
    cancelled_item = world.add_item()
    raced_item = world.add_item()
    cancelled, raced = world.consume()
    with world.scope() as session:
        session.get(ContentItem, cancelled_item).status = "unpublished"
        session.flush()
        service.withdraw_unpublished(session)
        # The other item vanished between the beat tick and the publish task.
        session.get(ContentItem, raced_item).status = "unpublished"

    assert world.due() == [raced]
    assert world.publish(cancelled, force=True).status == "cancelled"
    outcome = world.publish(raced)
    assert outcome.status == "cancelled" and "unpublished" in outcome.message
    assert mastodon.statuses == []


def test_disabled_account_holds_its_posts(on_mastodon, mastodon):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    with world.scope() as session:
        service.set_account_enabled(session, session.query(SocialAccount).one().id, enabled=False)
    assert world.due() == []
    assert "disabled" in world.publish(post_id, force=True).message
    assert mastodon.statuses == []


def test_gives_up_after_the_last_attempt(on_mastodon, mastodon):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    world.update_post(post_id, attempts=publishing.MAX_ATTEMPTS - 1)
    for _ in range(publishing.CALL_ATTEMPTS):
        mastodon.fail_next.append(("/api/v1/statuses", Scripted(503, {"error": "Unavailable"})))

    outcome = world.publish(post_id)

    assert outcome.status == "failed"
    assert world.post(post_id)["last_error"].startswith(
        f"gave up after {publishing.MAX_ATTEMPTS} attempts"
    )


def test_item_image_is_fetched_at_publish_time_with_its_alt_text(world, mastodon, images, tmp_path):
    world.settings = build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        content=ContentSettings(allow_private_hosts=True),  # the image server is on loopback
    )
    key = Fernet.generate_key().decode()
    world.settings.social.credentials_key = SecretStr(key)
    world.add_account(
        network="mastodon",
        name="Mastodon",
        base_url=mastodon.url,
        mode="automatic",
        credentials={"access_token": mastodon.token},
    )
    world.add_item(image_url=f"{images}/atelier.png", image_alt="Des post-it sur un mur")
    world.add_item(image_url=f"{images}/missing.png", image_alt="Une image perdue")
    with_image, without = world.consume()

    assert world.publish(with_image).published
    outcome = world.publish(without)

    first, second = mastodon.statuses
    [media] = first["media_attachments"]
    assert media["description"] == "Des post-it sur un mur"
    assert media["size"] == PNG.stat().st_size
    assert outcome.published and second["media_attachments"] == []
    assert "published without its image (HTTP 404" in world.post(without)["last_error"]


def test_image_on_a_private_address_is_refused_but_the_post_goes_out(on_mastodon, images):
    world = on_mastodon  # default settings: private and loopback addresses are refused
    world.add_item(image_url=f"{images}/atelier.png", image_alt="Des post-it")
    [post_id] = world.consume()
    assert world.publish(post_id).published
    assert "published without its image" in world.post(post_id)["last_error"]


def test_demo_accounts_write_every_post_to_the_outbox(world):
    with world.scope() as session:
        created = seed_social(session, world.settings)
        assert seed_social(session, world.settings) == []
    assert [a.network for a in created] == ["mastodon", "bluesky", "linkedin"]
    world.add_item(title="Transition juste\u00a0: les régions s’en mêlent")
    world.add_item(kind="event", title="Assemblée générale", event_start=utcnow())
    ids = world.consume()
    assert len(ids) == 6
    assert sorted(world.due()) == sorted(ids)

    for post_id in world.due():
        assert world.publish(post_id).published

    files = sorted(world.settings.social_outbox_dir.glob("*.json"))
    written = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    assert (
        sorted(w["network"] for w in written)
        == ["bluesky"] * 2 + ["linkedin"] * 2 + ["mastodon"] * 2
    )
    assert all(w["length"] <= w["limit"] for w in written)
    bluesky = next(w for w in written if w["network"] == "bluesky")
    assert bluesky["facets"] and bluesky["created_at"]
    row = world.post(ids[0])
    assert row["remote_url"].startswith("file://")
    # Publishing again (a duplicated task) neither rewrites nor adds a file.
    assert world.publish(ids[0], force=True).status == "published"
    assert len(list(world.settings.social_outbox_dir.glob("*.json"))) == 6


def test_credentials_never_reach_the_logs(on_linkedin, linkedin, caplog):
    world = on_linkedin
    with world.scope() as session:
        session.query(SocialAccount).one().token_expires_at = utcnow()  # forces a refresh
    world.add_item()
    linkedin.fail_next.append(("/rest/posts", Scripted(422, {"message": "bad post"})))
    [post_id] = world.consume()
    with caplog.at_level(logging.DEBUG):
        world.publish(post_id)
    assert caplog.records  # the publish did log
    for secret in ("li-token", "li-refresh", "client-secret"):
        assert secret not in caplog.text


def test_two_workers_cannot_claim_the_same_post(on_mastodon, committed_engine):
    world = on_mastodon
    world.add_item()
    [post_id] = world.consume()
    first = world.sessions()
    try:
        assert publishing.claim_post(first, post_id) is False  # claimed, not yet committed
        if not is_sqlite(committed_engine):
            # PostgreSQL: the other worker skips the locked row instead of waiting for it.
            with world.scope() as second:
                assert publishing.claim_post(second, post_id) is None
        first.commit()
    finally:
        first.close()
    with world.scope() as later:
        assert publishing.claim_post(later, post_id) is None  # the lease holds it
