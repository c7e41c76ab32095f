"""Polling sources end to end: a real local site, the real fetcher and parsers, a real database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import AppSettings, ContentSettings, Settings, build_settings
from dispatch.content import ingest, publications, sources, topics
from dispatch.content import items as content_items
from dispatch.content.models import ContentItem, PublicationEvent, Source
from dispatch.content.polling import poll_source
from dispatch.db import session_scope
from tests import factories
from tests.content.site import Site, running_site

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"


def rss(*items: tuple[str, str, str]) -> str:
    """An RSS 2.0 feed with (guid, title, pubDate) items."""
    body = "".join(
        f"<item><title>{title}</title><link>https://www.la27eregion.fr/{guid}/</link>"
        f"<guid isPermaLink='false'>{guid}</guid><pubDate>{date}</pubDate>"
        f"<category>Évènements</category>"
        f"<description>Résumé de {title} [&#8230;]</description></item>"
        for guid, title, date in items
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>La 27e Région</title><link>https://www.la27eregion.fr</link>{body}"
        "</channel></rss>"
    )


POST_A = (
    "p1",
    "Innovation publique : et si on « dépliait » l’évaluation ?",
    "Wed, 17 Jul 2024 08:12:40 +0000",
)
POST_B = (
    "p2",
    "AG de la 27e Région : le calme avant la tempête",
    "Tue, 18 Jun 2024 14:30:00 +0000",
)


@pytest.fixture
def site() -> Iterator[Site]:
    with running_site() as site:
        yield site


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    # The test site lives on 127.0.0.1, which the SSRF guard refuses unless told otherwise.
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        content=ContentSettings(allow_private_hosts=True),
    )


def _scope(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return lambda: session_scope(sessions)


def _add(sessions: sessionmaker[Session], url: str, kind: str = "rss", **kw: object) -> int:
    with session_scope(sessions) as session:
        factories.topic(session, "blog")
        factories.topic(session, "events")
        source = sources.add_source(session, url=url, kind=kind, topic_slugs=["blog"], **kw)  # type: ignore[arg-type]
        topics.add_rule(session, match="evenements", topic_slug="events")
        return source.id


def _poll(sessions: sessionmaker[Session], settings: Settings, source_id: int) -> ingest.PollReport:
    with session_scope(sessions) as session:
        assert sources.claim_source(session, source_id)
    return poll_source(source_id, settings=settings, scope=_scope(sessions))


def test_a_feed_becomes_items_with_topics(site: Site, sessions, local_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A, POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    report = _poll(sessions, local_settings, source_id)
    assert report.status == "ok"
    assert len(report.new) == 2
    with session_scope(sessions) as session:
        items = content_items.list_items(session)
        assert {i.title for i in items} == {POST_A[1], POST_B[1]}
        # Source default topic, plus the category rule "Évènements" → events (accents folded).
        assert all({t.slug for t in i.topics} == {"blog", "events"} for i in items)
        # WordPress's "[…]" marker never reaches readers.
        assert all(i.excerpt and "[" not in i.excerpt for i in items)
        source = session.get(Source, source_id)
        assert source is not None and source.last_status == "ok" and source.etag


def test_polling_again_changes_nothing_and_costs_a_304(
    site: Site, sessions, local_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A, POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    _poll(sessions, local_settings, source_id)
    second = _poll(sessions, local_settings, source_id)
    assert second.status == "not_modified"
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(ContentItem.id))) == 2
        assert session.scalar(select(func.count(PublicationEvent.id))) == 2


def test_an_edited_post_updates_its_item(site: Site, sessions, local_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A, POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    _poll(sessions, local_settings, source_id)
    site.serve(
        "/feed/", rss((POST_A[0], "Innovation publique : déplier l’évaluation", POST_A[2]), POST_B)
    )
    report = _poll(sessions, local_settings, source_id)
    assert len(report.updated) == 1 and not report.new
    with session_scope(sessions) as session:
        titles = {i.title for i in content_items.list_items(session)}
        assert "Innovation publique : déplier l’évaluation" in titles
        assert session.scalar(select(func.count(ContentItem.id))) == 2
        assert session.scalar(select(func.count(PublicationEvent.id))) == 2


def test_a_deleted_post_is_unpublished_and_leaves_the_lists(
    site: Site, sessions, local_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A, POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    _poll(sessions, local_settings, source_id)
    site.serve(
        "/feed/", rss(POST_B, ("p0", "Un billet plus ancien", "Mon, 03 Jun 2024 10:00:00 +0000"))
    )
    report = _poll(sessions, local_settings, source_id)
    assert len(report.unpublished) == 1
    with session_scope(sessions) as session:
        titles = {i.title for i in content_items.list_items(session)}
        assert POST_A[1] not in titles
        assert POST_B[1] in titles


def test_publication_fires_once_and_first_poll_is_silent(
    site: Site, sessions, local_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    _poll(sessions, local_settings, source_id)
    site.serve("/feed/", rss(POST_A, POST_B))
    _poll(sessions, local_settings, source_id)
    with session_scope(sessions) as session:
        events = {e.item.guid: e for e in session.scalars(select(PublicationEvent))}
        # Already online when the source was added: recorded, not announced.
        assert events["p2"].silent
        assert events["p2"] not in publications.pending_publications(session, consumer="alerts")
        # Published afterwards: waiting for the alerts and social consumers.
        assert not events["p1"].silent
        pending = publications.pending_publications(session, consumer="social")
        assert [e.item.guid for e in pending] == ["p1"]
        assert publications.fire_publication(session, events["p1"].item_id) is False


def test_a_failing_source_records_the_error_and_backs_off(
    site: Site, sessions, local_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A))
    good = _add(sessions, site.url("/feed/"))
    site.serve("/broken/", b"boom", "text/plain", status=500)
    with session_scope(sessions) as session:
        bad = sources.add_source(session, url=site.url("/broken/"), kind="rss").id
    _poll(sessions, local_settings, good)
    report = _poll(sessions, local_settings, bad)
    assert report.status == "error" and "HTTP 500" in (report.error or "")
    with session_scope(sessions) as session:
        source = session.get(Source, bad)
        assert source is not None
        assert source.last_status == "error" and "HTTP 500" in (source.last_error or "")
        assert source.consecutive_failures == 1
        assert source.next_poll_at is not None and source.last_polled_at is not None
        assert source.next_poll_at - source.last_polled_at >= __import__("datetime").timedelta(
            minutes=30
        )
        # The other source's items are untouched.
        assert len(content_items.list_items(session)) == 1


def test_malformed_document_keeps_existing_items(
    site: Site, sessions, local_settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A, POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    _poll(sessions, local_settings, source_id)
    site.serve("/feed/", "<html><body>Maintenance</body></html>", "text/html")
    report = _poll(sessions, local_settings, source_id)
    assert report.status == "error"
    with session_scope(sessions) as session:
        assert len(content_items.list_items(session)) == 2


def test_private_addresses_are_refused_by_default(site: Site, sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site.serve("/feed/", rss(POST_A))
    source_id = _add(sessions, site.url("/feed/"))
    strict = build_settings(app=AppSettings(data_dir=tmp_path / "var"))
    report = _poll(sessions, strict, source_id)
    assert report.status == "error"
    assert "127.0.0.1" in (report.error or "")
    assert site.requests == []


def test_ical_source_expands_recurrences(site: Site, sessions, local_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    site.serve("/agenda.ics", (FIXTURES / "agenda.ics").read_bytes(), "text/calendar")
    source_id = _add(sessions, site.url("/agenda.ics"), kind="ical")
    report = _poll(sessions, local_settings, source_id)
    assert report.status == "ok", report.error
    with session_scope(sessions) as session:
        items = content_items.list_items(session, kind="event")
        assert all(i.event_start is not None and i.event_start.tzinfo for i in items)


def test_two_polls_racing_never_duplicate(site: Site, sessions, local_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    import threading

    site.serve("/feed/", rss(POST_A, POST_B))
    source_id = _add(sessions, site.url("/feed/"))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            poll_source(source_id, settings=local_settings, scope=_scope(sessions))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(ContentItem.id))) == 2
        assert session.scalar(select(func.count(PublicationEvent.id))) == 2


def test_a_failed_first_poll_does_not_announce_the_back_catalogue(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    site.serve("/feed/", b"down for maintenance", "text/plain", status=503)
    source_id = _add(sessions, site.url("/feed/"))
    assert _poll(sessions, local_settings, source_id).status == "error"
    site.serve("/feed/", rss(POST_A, POST_B))
    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.next_poll_at = None  # due again now, not after its back-off
    assert _poll(sessions, local_settings, source_id).status == "ok"
    with session_scope(sessions) as session:
        # Already online when the source was added: recorded, nobody alerted or posted.
        assert publications.pending_publications(session, consumer="alerts") == []
        assert publications.pending_publications(session, consumer="social") == []


def test_a_poll_that_never_came_back_is_recorded_by_the_next_tick(
    sessions: sessionmaker[Session],
) -> None:
    from datetime import timedelta

    from dispatch.db import utcnow

    now = utcnow()
    with session_scope(sessions) as session:
        source_id = factories.source(session, next_poll_at=now).id

    def tick(at):  # type: ignore[no-untyped-def]
        with session_scope(sessions) as session:
            return sources.claim_due_sources(session, now=at)

    def row() -> Source:
        with session_scope(sessions) as session:
            found = session.get(Source, source_id)
            assert found is not None
            session.expunge(found)
            return found

    for crash in (1, 2, 3):
        with session_scope(sessions) as session:
            assert sources.claim_source(session, source_id, now=now)
            session.get(Source, source_id).poll_started_at = now  # type: ignore[union-attr]
        # Before the claim expires the poll may still be running: nothing is said.
        with session_scope(sessions) as session:
            assert ingest.record_stopped_polls(session, now=now + timedelta(minutes=1)) == []
        now += timedelta(minutes=6)
        assert tick(now) == []
        source = row()
        assert source.crashes == crash and source.last_error
        assert source.next_poll_at is not None and source.next_poll_at > now
    assert not source.enabled and source.last_status == "paused"
    with session_scope(sessions) as session:
        sources.resume_source(session, source_id, now=now)
    assert row().enabled and row().crashes == 0
    assert tick(now) == [source_id]


POSTS_PATH = "/wp-json/wp/v2/posts"
EVENTS_PATH = "/wp-json/tribe/events/v1/events"


def _wordpress(site: Site, sessions: sessionmaker[Session]) -> int:
    site.serve(POSTS_PATH, (FIXTURES / "wp-posts.json").read_bytes(), "application/json")
    site.serve(EVENTS_PATH, (FIXTURES / "tribe-events.json").read_bytes(), "application/json")
    return _add(sessions, site.url("/"), kind="wordpress")


def _events_requests(site: Site) -> list[str]:
    return [path for path in site.requests if path.startswith(EVENTS_PATH)]


def test_wordpress_events_get_the_events_topic_and_keep_venue_cost_and_registration(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    source_id = _wordpress(site, sessions)
    report = _poll(sessions, local_settings, source_id)
    assert report.status == "ok" and report.events is not None
    assert len(report.events.new) == 2, report.summary()
    with session_scope(sessions) as session:
        assembly = session.scalar(
            select(ContentItem).where(ContentItem.title == "Assemblée générale de la 27e Région")
        )
        assert assembly is not None
        # The source's posts are "blog"; its events go to the events topic, not the posts'.
        assert {t.slug for t in assembly.topics} == {"events"}
        assert assembly.location == "Péniche Antipode, 55 quai de la Seine, 75019 Paris"
        assert assembly.cost == "Gratuit"
        assert assembly.registration_url == (
            "https://www.helloasso.com/associations/la-27e-region/evenements/ag-2024"
        )
        posts = content_items.list_items(session, kind="post")
        assert posts and all("blog" in {t.slug for t in p.topics} for p in posts)


def test_wordpress_events_are_fetched_when_the_posts_answer_304(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    source_id = _wordpress(site, sessions)
    _poll(sessions, local_settings, source_id)
    page = json.loads((FIXTURES / "tribe-events.json").read_bytes())
    page["events"][0]["title"] = "Assemblée générale 2024 (nouvelle salle)"
    site.serve(EVENTS_PATH, json.dumps(page), "application/json")

    report = _poll(sessions, local_settings, source_id)

    assert report.status == "not_modified"  # the posts did not change
    assert report.events is not None and len(report.events.updated) == 1
    assert "events: 0 new, 1 updated" in report.summary()


def test_wordpress_events_follow_their_own_schedule_and_conditional_get(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    from datetime import timedelta

    from dispatch.db import utcnow

    source_id = _wordpress(site, sessions)
    _poll(sessions, local_settings, source_id)
    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None
        assert source.events_next_poll_at is not None and source.next_poll_at is not None
        # Events every hour by default, posts every 15 minutes.
        assert source.events_next_poll_at - source.next_poll_at > timedelta(minutes=40)
        source.next_poll_at = utcnow() - timedelta(minutes=1)  # only the posts are due
    asked = len(_events_requests(site))
    with session_scope(sessions) as session:
        assert sources.claim_due_sources(session) == [source_id]
    report = poll_source(source_id, settings=local_settings, scope=_scope(sessions))
    assert report.events is None and len(_events_requests(site)) == asked

    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None
        source.events_next_poll_at = utcnow() - timedelta(minutes=1)  # now only the events
    with session_scope(sessions) as session:
        assert sources.claim_due_sources(session) == [source_id]
    posts_asked = len([p for p in site.requests if p.startswith(POSTS_PATH)])
    report = poll_source(source_id, settings=local_settings, scope=_scope(sessions))
    assert report.status == "skipped" and report.events is not None
    assert report.events.status == "not_modified"  # its own ETag, sent back
    assert len([p for p in site.requests if p.startswith(POSTS_PATH)]) == posts_asked
    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None and source.claimed_until is None
        assert source.events_last_result == "not modified"


def test_a_site_without_the_events_calendar_is_asked_again_a_day_later(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    from datetime import timedelta

    site.serve(POSTS_PATH, (FIXTURES / "wp-posts.json").read_bytes(), "application/json")
    source_id = _add(sessions, site.url("/"), kind="wordpress")
    report = _poll(sessions, local_settings, source_id)
    assert report.status == "ok" and report.events is not None
    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None and source.events_next_poll_at is not None
        assert source.events_last_result == "no events calendar on this site"
        assert source.events_next_poll_at - source.last_polled_at >= timedelta(hours=23)  # type: ignore[operator]
