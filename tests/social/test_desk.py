"""The editorial desk end to end: one approval releases the alert and the social post, a hold
stops both, `--only alert` releases the alert alone, and a manual topic's item never goes out
by itself. Everything commits, as beat and the workers would, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch import audit
from dispatch.audit import AuditEvent
from dispatch.config import Settings
from dispatch.content import desk
from dispatch.content.models import PublicationEvent
from dispatch.content.publications import fire_publication, pending_publications
from dispatch.db import session_scope, utcnow
from dispatch.editions import alerts, choosing
from dispatch.editions.models import Edition, EditionItem
from dispatch.social import desk as social_desk
from dispatch.social import publishing, service
from dispatch.social.models import SocialPost
from tests import factories
from tests.social.fakes import FakeMastodon

EDITOR = audit.Actor("staff", "claire@example.org", "web", role="editor")


class Desk:
    """Beat's ticks and staff's decisions over one committed database."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings

    def scope(self) -> Iterator[Session]:
        return session_scope(self.sessions)  # type: ignore[return-value]

    def publish_item(self, *topics: str) -> int:
        """An item published an hour ago (its alert burst is over), with its event."""
        with self.scope() as session:
            item = factories.item(session, topics=list(topics), title="Atelier à Lille")
            assert fire_publication(session, item.id)
            event = session.scalar(
                select(PublicationEvent).where(PublicationEvent.item_id == item.id)
            )
            assert event is not None
            event.created_at = utcnow() - timedelta(hours=1)
            return item.id

    def alert_tick(self) -> list[list[int]]:
        """`create_alerts`, then the items of every alert edition so far."""
        with self.scope() as session:
            alerts.create_alerts(session, self.settings)
        with self.scope() as session:
            editions = session.scalars(select(Edition.id).where(Edition.kind == "alert"))
            return [
                list(
                    session.scalars(select(EditionItem.item_id).where(EditionItem.edition_id == e))
                )
                for e in editions
            ]

    def alerts_waiting(self) -> int:
        with self.scope() as session:
            return len(pending_publications(session, consumer="alerts"))

    def social_tick(self) -> list[publishing.Outcome]:
        """The social tick: posts from events, then every due post published."""
        with self.scope() as session:
            service.consume_publications(session, self.settings)
        with self.scope() as session:
            due = publishing.due_post_ids(session)
        return [
            publishing.publish_post(
                post_id, settings=self.settings, scope=self.scope, sleep=lambda s: None
            )
            for post_id in due
        ]

    def posts(self) -> list[SocialPost]:
        with self.scope() as session:
            rows = list(session.scalars(select(SocialPost).order_by(SocialPost.id)))
            session.expunge_all()
            return rows

    def as_editor(self, action: str, item_id: int, **options: object) -> None:
        with self.scope() as session:
            audit.acting(session, EDITOR)
            getattr(social_desk, action)(session, item_id, **options)


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon() as fake:
        yield fake


@pytest.fixture
def world(
    sessions: sessionmaker[Session],
    settings: Settings,
    mastodon: FakeMastodon,
    monkeypatch: pytest.MonkeyPatch,
) -> Desk:
    """A reader of "blog" alerts, an automatic Mastodon account, "blog" on approval."""
    monkeypatch.setenv("DISPATCH_TEST_MASTODON_ACCESS_TOKEN", mastodon.token)
    with session_scope(sessions) as session:
        factories.topic(session, "blog", desk_policy="approval")
        factories.topic(session, "agenda", desk_policy="manual")
        factories.subscriber(session, topics={"blog": "immediately", "agenda": "immediately"})
        service.add_account(
            session,
            settings,
            service.AccountSpec(
                network="mastodon",
                name="Mastodon",
                base_url=mastodon.url,
                mode="automatic",
                credentials_env="DISPATCH_TEST_MASTODON",
            ),
        )
    return Desk(sessions, settings)


def test_one_approval_releases_the_alert_and_the_social_post(
    world: Desk, mastodon: FakeMastodon
) -> None:
    item_id = world.publish_item("blog")

    assert world.alert_tick() == []
    assert world.alerts_waiting() == 1  # not consumed: it waits for the desk
    assert world.social_tick() == []
    [post] = world.posts()
    assert post.status == "scheduled" and post.text  # made, with its text, and waiting
    assert mastodon.statuses == []
    with world.scope() as session:
        assert [d.item_id for d in desk.pending(session)] == [item_id]

    world.as_editor("approve", item_id)

    assert world.alert_tick() == [[item_id]]
    [outcome] = world.social_tick()
    assert outcome.published
    [status] = mastodon.statuses
    assert "Atelier à Lille" in status["text"]
    with world.scope() as session:
        assert desk.pending(session) == []
        row = session.scalar(select(AuditEvent).where(AuditEvent.action == "desk.approved"))
        assert row is not None and row.actor == "claire@example.org"
        assert desk.decision_of(session, item_id).decided_by == "claire@example.org"  # type: ignore[union-attr]


def test_a_hold_stops_the_alert_and_cancels_the_waiting_post(
    world: Desk, mastodon: FakeMastodon
) -> None:
    item_id = world.publish_item("blog")
    world.social_tick()

    world.as_editor("hold", item_id)

    [post] = world.posts()
    assert post.status == "cancelled" and post.last_error == social_desk.HELD
    assert world.alert_tick() == []
    assert world.alerts_waiting() == 0  # consumed quietly: no alert will ever carry it
    assert world.social_tick() == [] and mastodon.statuses == []
    with world.scope() as session:
        assert choosing.default_items(session) == []
        with pytest.raises(choosing.DraftError, match="held on the editorial desk"):
            choosing.items_by_ids(session, [item_id])

    # Staff change their mind: the post the hold cancelled comes back and goes out; the
    # alert's moment has passed (it was consumed), so no alert follows.
    world.as_editor("approve", item_id)
    [outcome] = world.social_tick()
    assert outcome.published and len(mastodon.statuses) == 1
    assert world.alert_tick() == []


def test_only_alert_releases_the_alert_alone(world: Desk, mastodon: FakeMastodon) -> None:
    item_id = world.publish_item("blog")
    world.social_tick()

    world.as_editor("approve", item_id, only=["alert"])

    assert world.alert_tick() == [[item_id]]
    assert world.social_tick() == [] and mastodon.statuses == []
    with world.scope() as session:
        assert desk.released(session, [item_id], "digest") == set()
        assert [d.item_id for d in desk.pending(session)] == [item_id]

    world.as_editor("set_channel", item_id, channel_name="social", on=False)
    [post] = world.posts()
    assert post.status == "cancelled" and post.last_error == social_desk.SWITCHED_OFF


def test_a_manual_topics_item_never_goes_out_by_itself(world: Desk, mastodon: FakeMastodon) -> None:
    # The strictest of its topics decides: "agenda" is manual, "blog" needs approval.
    item_id = world.publish_item("blog", "agenda")
    with world.scope() as session:
        decision = desk.decision_of(session, item_id)
        assert decision is not None and decision.state == "manual"

    for _ in range(2):
        assert world.alert_tick() == []
        assert world.social_tick() == []
    with world.scope() as session:
        assert choosing.default_items(session) == []
        digest = choosing.items_published_between(session, since=None, channel="digest")
        assert digest == []
    assert mastodon.statuses == []

    # Released by hand, one channel at a time: the social post alone goes.
    [post] = world.posts()
    world.as_editor("set_channel", item_id, channel_name=f"social:{post.account_id}", on=True)
    [outcome] = world.social_tick()
    assert outcome.published and len(mastodon.statuses) == 1
    assert world.alert_tick() == []
