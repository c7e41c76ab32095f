"""Composing editions from items: which items, in which order, and what staff may change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.content.models import ContentItem
from dispatch.db import utcnow
from dispatch.delivery import proofs
from dispatch.editions import choosing, drafts
from dispatch.editions.service import compile_for_send, edition_view
from tests import factories
from tests.editions.delivered import body_text, outbox, send_due


def _titles(items: list[ContentItem]) -> list[str]:
    return [item.title for item in items]


def test_default_order_is_posts_then_upcoming_events_then_picks_by_tag(
    db_session: Session,
) -> None:
    now = utcnow()
    ago = lambda hours: now - timedelta(hours=hours)  # noqa: E731
    older_post = factories.item(db_session, title="Older post", published_at=ago(30))
    newer_post = factories.item(db_session, title="Newer post", published_at=ago(2))
    later = factories.item(
        db_session,
        kind="event",
        title="Assemblée générale",
        topics=["events"],
        published_at=ago(5),
        event_start=now + timedelta(days=20),
    )
    sooner = factories.item(
        db_session,
        kind="event",
        title="Atelier du jeudi",
        topics=["events"],
        published_at=ago(5),
        event_start=now + timedelta(days=3),
    )
    factories.item(  # the same workshop next month: shown once, at its next date
        db_session,
        kind="event",
        title="Atelier du jeudi",
        topics=["events"],
        published_at=ago(5),
        event_start=now + timedelta(days=33),
    )
    factories.item(  # already over: left out
        db_session,
        kind="event",
        title="Past event",
        topics=["events"],
        published_at=ago(6),
        event_start=now - timedelta(days=1),
        event_end=now - timedelta(hours=20),
    )
    must = factories.item(
        db_session,
        kind="pick",
        tag="mustread",
        title="Must",
        topics=["mustread"],
        published_at=ago(1),
    )
    like = factories.item(
        db_session, kind="pick", tag="onaime", title="Like", topics=["onaime"], published_at=ago(1)
    )
    debate = factories.item(
        db_session,
        kind="pick",
        tag="controverse",
        title="Debate",
        topics=["controverse"],
        published_at=ago(1),
    )

    chosen = choosing.default_items(db_session, since=now - timedelta(days=3), now=now)

    assert [i.id for i in chosen] == [
        newer_post.id,
        older_post.id,
        sooner.id,
        later.id,
        like.id,
        debate.id,
        must.id,
    ]


def test_default_items_start_where_the_last_newsletter_went_out(db_session: Session) -> None:
    now = utcnow()
    factories.item(db_session, title="Already sent", published_at=now - timedelta(days=8))
    fresh = factories.item(db_session, title="Fresh", published_at=now - timedelta(days=2))
    factories.edition(db_session, status="sent", started_at=now - timedelta(days=7), send_at=None)
    factories.edition(db_session, status="draft")  # a draft is not a newsletter that went out

    chosen = choosing.default_items(db_session, now=now)

    assert fresh in chosen
    assert "Already sent" not in _titles(chosen)


def test_default_items_by_topic_only(db_session: Session) -> None:
    now = utcnow()
    blog = factories.item(db_session, topics=["blog"], published_at=now - timedelta(hours=1))
    factories.item(
        db_session,
        topics=["onaime"],
        kind="pick",
        tag="onaime",
        published_at=now - timedelta(hours=1),
    )
    chosen = choosing.default_items(db_session, since=now - timedelta(days=1), topics=["blog"])
    assert [i.id for i in chosen] == [blog.id]
    with pytest.raises(drafts.DraftError, match="unknown topic"):
        choosing.default_items(db_session, topics=["nope"])


def test_items_named_by_staff_keep_their_order_and_bad_ids_are_refused(
    db_session: Session,
) -> None:
    a, b, c = (factories.item(db_session) for _ in range(3))
    assert choosing.items_by_ids(db_session, [c.id, a.id, b.id]) == [c, a, b]
    with pytest.raises(drafts.DraftError, match="No item with id 999999"):
        choosing.items_by_ids(db_session, [a.id, 999999])
    with pytest.raises(drafts.DraftError, match="given twice"):
        choosing.items_by_ids(db_session, [a.id, a.id])
    b.status = "unpublished"
    db_session.flush()
    with pytest.raises(drafts.DraftError, match="no longer published"):
        choosing.items_by_ids(db_session, [b.id])


@pytest.mark.parametrize(
    ("subject", "message"),
    [("", "empty"), ("Bonjour\r\nBcc: everyone@example.org", "one line"), ("x" * 201, "at most")],
)
def test_subjects_that_would_break_an_email_are_refused(
    db_session: Session, subject: str, message: str
) -> None:
    item = factories.item(db_session)
    with pytest.raises(drafts.DraftError, match=message):
        drafts.create_edition(db_session, subject=subject, items=[item])


def test_create_records_audience_language_and_order(db_session: Session) -> None:
    a, b = factories.item(db_session), factories.item(db_session)
    factories.topic(db_session, "events")
    edition = drafts.create_edition(
        db_session,
        subject="  La lettre de novembre ",
        items=[b, a],
        topics=["events"],
        locale="en",
        intro="Bonjour",
    )
    assert edition.status == "draft"
    assert edition.subject == "La lettre de novembre"
    assert edition.audience == {"topics": ["events"]}
    assert edition.locale == "en"
    assert [link.item_id for link in edition.items] == [b.id, a.id]
    with pytest.raises(drafts.DraftError, match="No items"):
        drafts.create_edition(db_session, subject="Vide", items=[])
    with pytest.raises(drafts.DraftError, match="Unknown language"):
        drafts.create_edition(db_session, subject="x", items=[a], locale="de")


def test_intro_markdown_reaches_the_email_sanitised(db_session: Session) -> None:
    item = factories.item(db_session)
    edition = drafts.create_edition(
        db_session,
        subject="Lettre",
        items=[item],
        intro="**Bienvenue** <script>alert(1)</script> [lien](javascript:alert(2)) {{ 7*7 }}",
    )
    view = edition_view(db_session, edition, locale="fr")
    assert "<strong>Bienvenue</strong>" in view.intro_html
    assert "<script" not in view.intro_html
    assert "javascript:" not in view.intro_html
    assert "{{ 7*7 }}" in view.intro_html  # data, never evaluated


def test_edit_changes_what_is_sent_until_the_send_starts(
    db_session: Session, settings: Settings
) -> None:
    a, b = factories.item(db_session, title="Premier"), factories.item(db_session, title="Second")
    edition = drafts.create_edition(db_session, subject="Avant", items=[a, b])
    before = compile_for_send(db_session, edition.id, settings).for_locale("fr")
    assert before.subject == "Avant"

    drafts.update_edition(db_session, edition.id, subject="Après", item_ids=[b.id])
    after = compile_for_send(db_session, edition.id, settings).for_locale("fr")
    assert after.subject == "Après"
    html = after.variant().html.join(dict.fromkeys(after.variant().html.slots, ""))
    assert "Second" in html and "Premier" not in html

    edition.status = "sending"
    db_session.flush()
    with pytest.raises(drafts.DraftError, match="only a draft or scheduled"):
        drafts.update_edition(db_session, edition.id, subject="Trop tard")


def test_digest_preview_as_a_subscriber_shows_only_their_topics_at_that_frequency(
    db_session: Session, settings: Settings
) -> None:
    blog = factories.item(db_session, title="Un article", topics=["blog"])
    event = factories.item(db_session, kind="post", title="Un évènement", topics=["events"])
    reader = factories.subscriber(
        db_session, email="lecture@example.org", topics={"blog": "weekly", "events": "monthly"}
    )
    edition = factories.edition(
        db_session,
        kind="digest",
        template="digest",
        subject="",
        intro="",
        audience={"frequency": "weekly"},
        items=[blog, event],
    )
    preview = proofs.preview(db_session, settings, edition.id, as_email=reader.email)
    assert "Un article" in preview.rendered.html
    assert "Un évènement" not in preview.rendered.html
    assert preview.recipient.topics == frozenset({"blog"})


def test_demo_newsletter_is_scheduled_soon_and_reaches_the_outbox(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    from dispatch.demo import ensure_topics, seed_content
    from dispatch.editions.demo import SEND_DELAY, seed_newsletter

    now = utcnow()
    with sessions() as session, session.begin():
        ensure_topics(session)
        seed_content(session, settings)
        factories.subscriber(session, email="camille@example.org", topics={"blog": "weekly"})
        edition = seed_newsletter(session, settings, now=now)
        assert edition is not None
        assert seed_newsletter(session, settings, now=now) is None  # once
        assert edition.status == "scheduled"
        assert edition.send_at == now + SEND_DELAY
        assert "Bonjour à toutes et à tous" in edition.intro
        kinds = [link.item.kind for link in edition.items]
        assert kinds[0] == "post" and "event" in kinds and kinds[-1] == "pick"
        assert kinds == sorted(kinds, key=["post", "event", "pick"].index)
        subject = edition.subject

    send_due(sessions, settings, now + timedelta(minutes=1))
    assert outbox(settings) == {}  # not yet
    send_due(sessions, settings, now + SEND_DELAY + timedelta(seconds=1))
    (message,) = outbox(settings)["camille@example.org"]
    assert message["Subject"] == subject
    assert "L'équipe de la 27e Région" in body_text(message)


def test_changing_topics_keeps_the_rest_of_the_audience(db_session: Session) -> None:
    factories.topic(db_session, "blog")
    factories.topic(db_session, "agenda")
    item = factories.item(db_session, title="Premier")
    alert = drafts.create_edition(
        db_session, subject="Vite", items=[item], kind="alert", topics=["blog"]
    )
    drafts.update_edition(db_session, alert.id, topics=["agenda", "blog"])
    assert alert.audience == {"frequency": "immediately", "topics": ["agenda", "blog"]}
    drafts.update_edition(db_session, alert.id, topics=[])
    assert alert.audience == {"frequency": "immediately"}
    with pytest.raises(drafts.DraftError, match="nope"):
        drafts.update_edition(db_session, alert.id, topics=["nope"])
