"""One item per real post: a site's RSS feed and its WordPress REST API, polled for real."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import AppSettings, ContentSettings, Settings, build_settings
from dispatch.content import items as content_items
from dispatch.content import publications, sources
from dispatch.content.models import ContentItem, ItemSource, PublicationEvent
from dispatch.db import session_scope
from tests import factories
from tests.content.site import Site, running_site
from tests.content.test_polling import FIXTURES, POSTS_PATH, _poll

FEED = (FIXTURES / "wordpress-rss2.xml").read_text(encoding="utf-8")
FEED_TITLE = (
    "Innovation publique&#160;: et si on &#171;&#160;dépliait&#160;&#187; l&#8217;évaluation&#160;?"
)
POST_ID = 18342


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


def _rest() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "wp-posts.json").read_bytes())


def _without_first_item(feed: str) -> str:
    return re.sub(r"<item>.*?</item>", "", feed, count=1, flags=re.S)


def _serve(site: Site, *, feed: str = FEED, rest: list[dict[str, Any]] | None = None) -> None:
    site.serve("/feed/", feed)
    site.serve(POSTS_PATH, json.dumps(_rest() if rest is None else rest), "application/json")


def _sources(site: Site, sessions: sessionmaker[Session]) -> tuple[int, int]:
    """The site's feed (topic blog) and its REST API (topic veille), as staff add them."""
    with session_scope(sessions) as session:
        factories.topic(session, "blog")
        factories.topic(session, "veille")
        feed = sources.add_source(session, url=site.url("/feed/"), kind="rss", topic_slugs=["blog"])
        api = sources.add_source(
            session, url=site.url("/"), kind="wordpress", topic_slugs=["veille"]
        )
        return feed.id, api.id


def _post(session: Session) -> ContentItem:
    return session.scalars(select(ContentItem).where(ContentItem.wp_post_id == POST_ID)).one()


def _count(session: Session, what: Any) -> int:
    return int(session.scalar(select(func.count(what))) or 0)


@pytest.mark.parametrize("first", ["rss", "wordpress"])
def test_the_same_post_in_the_feed_and_the_rest_api_is_one_item(
    first: str, site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    _serve(site)
    feed_id, api_id = _sources(site, sessions)
    order = [feed_id, api_id] if first == "rss" else [api_id, feed_id]

    _poll(sessions, local_settings, order[0])
    second = _poll(sessions, local_settings, order[1])

    assert len(second.merged) == 2, second.summary()
    assert "2 merged" in second.summary()
    with session_scope(sessions) as session:
        # The feed's three posts; the API's two with a link are the same two of them.
        assert _count(session, ContentItem.id) == 3
        assert _count(session, PublicationEvent.id) == 3
        post = _post(session)
        assert post.source_id == order[0]  # whichever saw it first
        shown = content_items.item_as_dict(post)
        assert [s["source_id"] for s in shown["sources"]] == order
        assert {s["kind"] for s in shown["sources"]} == {"rss", "wordpress"}
        assert set(shown["topics"]) == {"blog", "veille"}  # what each source gives it
        # Either way the item says what the API, edited after the feed's copy, says.
        assert post.updated_at == datetime(2024, 7, 18, 7, 5, 11, tzinfo=UTC)
        only_in_feed = session.scalars(
            select(ContentItem).where(ContentItem.wp_post_id == 18110)
        ).one()
        assert [s.source_id for s in only_in_feed.sightings] == [feed_id]
        assert [t.slug for t in only_in_feed.topics] == ["blog"]


def test_a_new_post_seen_by_both_sources_is_announced_once(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    _serve(site, feed=_without_first_item(FEED), rest=_rest()[1:])
    feed_id, api_id = _sources(site, sessions)
    _poll(sessions, local_settings, feed_id)  # first polls: what is online, unannounced
    _poll(sessions, local_settings, api_id)

    _serve(site)  # the post goes up on the site
    from_feed = _poll(sessions, local_settings, feed_id)
    from_api = _poll(sessions, local_settings, api_id)

    assert len(from_feed.new) == 1 and from_feed.published_events == 1
    assert from_api.merged == from_feed.new and from_api.published_events == 0
    with session_scope(sessions) as session:
        pending = publications.pending_publications(session, consumer="alerts")
        assert [event.item_id for event in pending] == from_feed.new
        assert _count(session, PublicationEvent.id) == 3


def test_an_edit_through_either_source_updates_the_one_item(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    _serve(site)
    feed_id, api_id = _sources(site, sessions)
    _poll(sessions, local_settings, feed_id)
    _poll(sessions, local_settings, api_id)
    with session_scope(sessions) as session:
        item_id = _post(session).id

    rest = _rest()
    rest[0]["title"]["rendered"] = "Déplier l’évaluation, un an après"
    rest[0]["modified_gmt"] = "2024-07-19T09:00:00"
    _serve(site, rest=rest)
    assert _poll(sessions, local_settings, api_id).updated == [item_id]
    with session_scope(sessions) as session:
        assert _post(session).title == "Déplier l’évaluation, un an après"

    # The feed changes elsewhere: its unchanged copy of the post does not undo the edit.
    other = FEED.replace("le calme avant la tempête", "après la tempête")
    _serve(site, feed=other, rest=rest)
    report = _poll(sessions, local_settings, feed_id)
    assert item_id not in report.updated and len(report.updated) == 1
    with session_scope(sessions) as session:
        assert _post(session).title == "Déplier l’évaluation, un an après"

    _serve(site, feed=other.replace(FEED_TITLE, "Déplier l’évaluation, la suite"), rest=rest)
    assert _poll(sessions, local_settings, feed_id).updated == [item_id]
    with session_scope(sessions) as session:
        assert _post(session).title == "Déplier l’évaluation, la suite"
        assert _count(session, ContentItem.id) == 3
        assert _count(session, PublicationEvent.id) == 3  # an edit announces nothing again


def test_a_p_guid_finds_the_rest_post_whose_link_and_guid_changed(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    """The feed writes an old permalink; the API's guid is from the site's former domain:
    only the post id (the feed's `?p=18342` guid, the API's `id`) says they are one post."""
    feed = FEED.replace(
        "https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/</link>",
        "https://www.la27eregion.fr/2024/07/17/depliait-levaluation/</link>",
    )
    rest = _rest()
    rest[0]["guid"]["rendered"] = "http://ancien.la27eregion.example/?p=18342"
    _serve(site, feed=feed, rest=rest)
    feed_id, api_id = _sources(site, sessions)
    _poll(sessions, local_settings, feed_id)
    report = _poll(sessions, local_settings, api_id)
    with session_scope(sessions) as session:
        post = _post(session)
        assert post.id in report.merged
        assert {s.source_id for s in post.sightings} == {feed_id, api_id}
        assert _count(session, ContentItem.id) == 3


def _feed(*entries: tuple[str, str, str]) -> str:
    """An RSS feed of (guid, link, title) items published on 1 December 2026."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid isPermaLink='false'>{guid}</guid>"
        "<pubDate>Tue, 01 Dec 2026 08:00:00 +0000</pubDate></item>"
        for guid, link, title in entries
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{body}</channel></rss>"
    )


def test_different_sites_stay_apart_and_one_sites_feeds_merge_by_link(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    site.serve("/a/", _feed(("https://a.example/?p=7", "https://a.example/atelier/", "Atelier A")))
    site.serve("/b/", _feed(("https://b.example/?p=7", "https://b.example/atelier/", "Atelier B")))
    # A site's category feed, without post ids, writes the link with tracking and a fragment.
    site.serve(
        "/a/category/",
        _feed(("tag:a.example:7", "https://A.example/atelier?utm_source=rss#haut", "Atelier A")),
    )
    with session_scope(sessions) as session:
        factories.topic(session, "blog")
        ids = [
            sources.add_source(session, url=site.url(path), kind="rss", topic_slugs=["blog"]).id
            for path in ("/a/", "/b/", "/a/category/")
        ]
    reports = [_poll(sessions, local_settings, source_id) for source_id in ids]

    assert [len(r.new) for r in reports] == [1, 1, 0]
    assert reports[2].merged == reports[0].new
    with session_scope(sessions) as session:
        titles = sorted(i.title for i in session.scalars(select(ContentItem)))
        assert titles == ["Atelier A", "Atelier B"]
        assert _count(session, ItemSource.id) == 3


def test_an_item_stays_published_until_its_last_source_drops_it(
    site: Site, sessions: sessionmaker[Session], local_settings: Settings
) -> None:
    _serve(site)
    feed_id, api_id = _sources(site, sessions)
    _poll(sessions, local_settings, feed_id)
    _poll(sessions, local_settings, api_id)

    _serve(site, feed=_without_first_item(FEED))  # gone from the feed, still in the API
    assert _poll(sessions, local_settings, feed_id).unpublished == []
    with session_scope(sessions) as session:
        post = _post(session)
        assert post.status == "published"
        assert post.id in {i.id for i in content_items.list_items(session)}

    rest = _rest()
    rest[0]["status"] = "draft"  # and now taken off the site
    _serve(site, feed=_without_first_item(FEED), rest=rest)
    _poll(sessions, local_settings, api_id)
    with session_scope(sessions) as session:
        post = _post(session)
        assert post.status == "unpublished"
        assert post.id not in {i.id for i in content_items.list_items(session)}
        assert {s.status for s in post.sightings} == {"unpublished"}
