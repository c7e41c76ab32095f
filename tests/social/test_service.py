"""Accounts and posts: which posts a new item makes, and what staff can do with them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from dispatch.config import AppSettings, SocialSettings, build_settings
from dispatch.content import items, publications
from dispatch.content.models import PublicationEvent
from dispatch.db import utcnow
from dispatch.i18n import french_spacing
from dispatch.social import accounts, service
from dispatch.social.models import SocialPost
from tests import factories


def account(session, settings, **fields):
    fields.setdefault("network", "mastodon")
    fields.setdefault("name", f"Compte {fields['network']}")
    if fields["network"] == "mastodon":
        fields.setdefault("base_url", "https://mastodon.example")
    if fields["network"] == "bluesky":
        fields.setdefault("handle", "lab.bsky.social")
    if fields["network"] == "linkedin":
        fields.setdefault("handle", "2414183")
    return service.add_account(session, settings, service.AccountSpec(**fields))


def published_item(session, **fields):
    item = factories.item(session, **fields)
    publications.fire_publication(session, item.id)
    return item


def posts_for(session, item) -> dict[str, SocialPost]:
    rows = session.query(SocialPost).filter(SocialPost.item_id == item.id).all()
    return {p.account.name: p for p in rows}


def test_a_new_item_makes_one_post_per_matching_account(db_session, settings):
    now = utcnow()
    factories.topic(db_session, "events")
    account(db_session, settings, name="auto", mode="automatic", delay_minutes=30)
    account(db_session, settings, name="review", network="bluesky", mode="approval")
    account(db_session, settings, name="events only", network="linkedin", topic_slugs=["events"])
    account(db_session, settings, name="off", mode="off")
    disabled = account(db_session, settings, name="disabled", mode="automatic")
    service.set_account_enabled(db_session, disabled.id, enabled=False)
    item = published_item(db_session, topics=["blog"])

    created = service.consume_publications(db_session, settings, now=now)

    posts = posts_for(db_session, item)
    assert sorted(posts) == ["auto", "review"]
    assert {p.id for p in created} == {p.id for p in posts.values()}
    assert posts["auto"].status == "scheduled"
    assert posts["auto"].scheduled_at == now + timedelta(minutes=30)
    assert posts["review"].status == "awaiting_approval"
    assert posts["review"].scheduled_at is None
    title = french_spacing(item.title)  # French typography in French posts
    assert title in posts["auto"].text and item.url in posts["auto"].text
    assert "#blog" in posts["review"].text
    assert len(posts["auto"].idempotency_key) > 20
    assert posts["auto"].idempotency_key != posts["review"].idempotency_key
    event = db_session.query(PublicationEvent).filter_by(item_id=item.id).one()
    assert event not in publications.pending_publications(db_session, consumer="social")
    # A second run finds nothing new to do.
    assert service.consume_publications(db_session, settings) == []
    assert len(posts_for(db_session, item)) == 2


def test_topics_decide_and_an_account_without_topics_takes_everything(db_session, settings):
    factories.topic(db_session, "events")
    account(db_session, settings, name="events", topic_slugs=["events"], mode="automatic")
    account(db_session, settings, name="all", network="bluesky", mode="automatic")
    blog = published_item(db_session, topics=["blog"])
    event = published_item(db_session, topics=["events"], kind="event")

    service.consume_publications(db_session, settings)

    assert sorted(posts_for(db_session, blog)) == ["all"]
    assert sorted(posts_for(db_session, event)) == ["all", "events"]


def test_unpublished_and_silent_items_make_no_posts(db_session, settings):
    account(db_session, settings, mode="automatic")
    gone = published_item(db_session)
    gone.status = "unpublished"
    old = factories.item(db_session)
    publications.fire_publication(db_session, old.id, silent=True)

    assert service.consume_publications(db_session, settings) == []


def test_one_post_per_account_and_item_even_when_prepared_twice(db_session, settings):
    acc = account(db_session, settings, mode="automatic")
    item = published_item(db_session)
    first = service.prepare_item_posts(db_session, item, settings)
    again = service._new_post(
        db_session,
        acc,
        service.content_for_item(item, language="fr", settings=settings),
        now=utcnow(),
        item_id=item.id,
    )
    assert len(first) == 1
    assert again is None  # the unique constraint said no; the session is still usable
    assert len(posts_for(db_session, item)) == 1


def test_unpublished_upstream_cancels_waiting_posts(db_session, settings):
    account(db_session, settings, mode="approval")
    item = published_item(db_session)
    [post] = service.consume_publications(db_session, settings)
    item.status = "unpublished"
    db_session.flush()
    service.consume_publications(db_session, settings)  # the next tick sees it gone
    db_session.refresh(post)
    assert post.status == "cancelled"
    with pytest.raises(service.SocialError, match="cancelled"):
        service.approve_post(db_session, post.id)


def test_approve_schedule_and_cancel(db_session, settings):
    account(db_session, settings, mode="approval")
    published_item(db_session)
    [post] = service.consume_publications(db_session, settings)
    now = utcnow()

    service.approve_post(db_session, post.id, by="camille", now=now)
    assert (post.status, post.scheduled_at, post.approved_by) == ("scheduled", now, "camille")

    later = now + timedelta(days=2)
    service.schedule_post(db_session, post.id, at=later, now=now)
    assert post.scheduled_at == later
    with pytest.raises(service.SocialError, match="already passed"):
        service.schedule_post(db_session, post.id, at=now - timedelta(hours=1), now=now)

    service.cancel_post(db_session, post.id)
    assert post.status == "cancelled"
    with pytest.raises(service.SocialError, match="cannot be cancelled"):
        service.cancel_post(db_session, post.id)


def test_edit_is_checked_the_way_the_network_counts(db_session, settings):
    account(db_session, settings, network="bluesky", mode="approval")
    published_item(db_session)
    [post] = service.consume_publications(db_session, settings)

    service.edit_post(db_session, post.id, "Un atelier à ne pas manquer\u00a0!  ", settings)
    assert post.text == "Un atelier à ne pas manquer\u202f!"  # French typography kept

    with pytest.raises(service.SocialError, match=r"301 graphemes long; bluesky allows 300"):
        service.edit_post(db_session, post.id, "é" * 301, settings)
    with pytest.raises(service.SocialError, match="empty"):
        service.edit_post(db_session, post.id, "   ", settings)
    assert post.text == "Un atelier à ne pas manquer\u202f!"  # French typography kept


def test_pick_and_event_use_their_own_templates(db_session, settings):
    factories.topic(db_session, "onaime", hashtag="#onaime")
    account(db_session, settings, mode="automatic")
    pick = items.add_pick(
        db_session,
        url="https://example.org/rapport",
        title="Un rapport sur la participation",
        tag="onaime",
        comment="Très utile pour les collectivités.",
    )
    event = published_item(
        db_session,
        kind="event",
        title="Assemblée générale",
        event_start=factories.aware(2026, 12, 3, 17, 30),
        location="Paris",
    )
    service.consume_publications(db_session, settings)
    [pick_post] = posts_for(db_session, pick).values()
    [event_post] = posts_for(db_session, event).values()
    assert pick_post.text.startswith("#onaime Un rapport sur la participation")
    assert "Très utile" in pick_post.text
    assert "jeudi 3 décembre 2026" in event_post.text and "Paris" in event_post.text


def test_announce_a_sent_edition(db_session, settings):
    account(db_session, settings, name="auto", mode="automatic")
    account(db_session, settings, name="review", network="linkedin", mode="approval")
    edition = factories.edition(db_session, subject="La lettre de décembre", status="draft")
    with pytest.raises(service.SocialError, match="draft"):
        service.announce_edition(db_session, edition.id, settings)

    edition.status = "sent"
    posts = {p.account.name: p for p in service.announce_edition(db_session, edition.id, settings)}
    assert posts["auto"].status == "scheduled"
    assert posts["review"].status == "awaiting_approval"
    assert posts["auto"].text.startswith("La lettre est parue\u00a0: La lettre de décembre")
    assert f"/archive/{edition.id}" in posts["auto"].text
    # Announcing again does not make second posts.
    assert service.announce_edition(db_session, edition.id, settings) == []


def test_accounts_need_what_their_network_needs(db_session, settings):
    with pytest.raises(service.SocialError, match="instance URL"):
        service.add_account(db_session, settings, service.AccountSpec(network="mastodon", name="m"))
    with pytest.raises(service.SocialError, match="organisation's id"):
        service.add_account(
            db_session, settings, service.AccountSpec(network="linkedin", name="l", handle="lab")
        )
    with pytest.raises(service.SocialError, match="unknown network"):
        service.add_account(db_session, settings, service.AccountSpec(network="myspace", name="x"))
    with pytest.raises(service.SocialError, match="unknown topic"):
        account(db_session, settings, topic_slugs=["nope"])
    with pytest.raises(service.SocialError, match="environment variable prefix"):
        account(db_session, settings, credentials_env="not a prefix")


def test_stored_credentials_are_encrypted_and_never_shown(db_session, tmp_path):
    key = Fernet.generate_key().decode()
    settings = build_settings(
        app=AppSettings(data_dir=tmp_path), social=SocialSettings(credentials_key=SecretStr(key))
    )
    acc = account(db_session, settings, credentials={"access_token": "tok-s3cret-123"})
    assert acc.credentials is not None and b"tok-s3cret-123" not in acc.credentials
    shown = service.account_as_dict(acc, settings)
    assert "tok-s3cret-123" not in repr(shown)
    assert shown["credentials"] == "stored encrypted"
    assert shown["publishes_to"] == "mastodon"
    assert accounts.load_credentials(acc, settings) == {"access_token": "tok-s3cret-123"}

    # Embedded mode makes its own key; production without one refuses to store credentials.
    no_key = build_settings(
        app=AppSettings(mode="production", data_dir=tmp_path),
        security={"secret_key": "x" * 40},
        database={"url": "postgresql+psycopg://u@h/d"},
        broker={"url": "redis://h"},
    )
    with pytest.raises(service.SocialError, match="DISPATCH_SOCIAL__CREDENTIALS_KEY"):
        account(db_session, no_key, name="other", credentials={"access_token": "x"})


def test_credentials_from_the_environment(db_session, settings):
    acc = account(db_session, settings, network="linkedin", credentials_env="DISPATCH_LI_LAB")
    shown = service.account_as_dict(acc, settings)
    assert "DISPATCH_LI_LAB_ACCESS_TOKEN" in shown["credentials"]
    env = {"DISPATCH_LI_LAB_ACCESS_TOKEN": "a", "DISPATCH_LI_LAB_REFRESH_TOKEN": "r"}
    assert accounts.load_credentials(acc, settings, environ=env) == {
        "access_token": "a",
        "refresh_token": "r",
    }
    with pytest.raises(accounts.AccountError, match="set DISPATCH_LI_LAB_ACCESS_TOKEN"):
        accounts.load_credentials(acc, settings, environ={})


def test_without_credentials_embedded_mode_uses_the_outbox(db_session, settings, tmp_path):
    acc = account(db_session, settings)
    assert accounts.target(acc, settings) == "outbox"
    production = build_settings(
        app=AppSettings(mode="production", data_dir=tmp_path),
        security={"secret_key": "x" * 40},
        database={"url": "postgresql+psycopg://u@h/d"},
        broker={"url": "redis://h"},
    )
    assert accounts.target(acc, production) == "mastodon"
    with pytest.raises(accounts.AccountError, match="no credentials"):
        accounts.publisher_for(acc, production)


def test_occurrences_of_a_recurring_event_are_announced_once(db_session, settings):
    account(db_session, settings, mode="automatic")
    url = "https://www.la27eregion.fr/agenda/atelier-du-jeudi/"
    first = published_item(db_session, kind="event", url=url, guid=f"{url}#1")
    second = published_item(db_session, kind="event", url=url, guid=f"{url}#2")
    other = published_item(db_session, kind="event")

    service.consume_publications(db_session, settings)

    assert len(posts_for(db_session, first)) == 1
    assert posts_for(db_session, second) == {}
    assert len(posts_for(db_session, other)) == 1
