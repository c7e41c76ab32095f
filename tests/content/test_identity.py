"""What makes two sources' entries the same post: canonical links and WordPress post ids."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch.content.identity import canonical_url, identity_of, short_link_id, site_of
from dispatch.content.rss import parse_feed
from dispatch.content.wordpress import parse_posts
from tests.content.feed_server import fixture_bytes

SITE = "https://www.la27eregion.fr/"
POST = "https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation"


@pytest.mark.parametrize(
    "written",
    [
        POST,
        POST + "/",
        POST + "/#commentaires",
        "HTTPS://WWW.La27eRegion.FR:443/innovation-publique-et-si-on-depliait-levaluation/",
        POST + "/?utm_source=rss&utm_medium=rss&utm_campaign=lettre",
        POST + "/?fbclid=IwAR0abc&utm_content=x",
    ],
)
def test_one_page_however_it_is_written(written: str) -> None:
    assert canonical_url(written) == POST


def test_what_names_another_page_stays_apart() -> None:
    assert canonical_url(POST + "/?page=2") != canonical_url(POST)
    assert canonical_url("https://www.la27eregion.fr/Billet/") != canonical_url(
        "https://www.la27eregion.fr/billet/"
    )  # paths are case-sensitive
    assert canonical_url("https://autre.example/innovation") != canonical_url(
        "https://www.la27eregion.fr/innovation"
    )
    assert canonical_url("http://www.la27eregion.fr:8080/a/") == "http://www.la27eregion.fr:8080/a"
    assert canonical_url("mailto:equipe@example.org") is None


def test_wordpress_short_links_give_the_post_id() -> None:
    assert short_link_id("https://www.la27eregion.fr/?p=18342") == 18342
    assert short_link_id("https://www.la27eregion.fr?p=18342") == 18342
    assert short_link_id("https://www.la27eregion.fr/index.php?p=7") == 7
    assert short_link_id("https://www.la27eregion.fr/billet/?p=18342") is None  # not the root
    assert short_link_id("https://www.la27eregion.fr/?page_id=2") is None
    assert short_link_id("https://www.la27eregion.fr/?p=abc") is None
    assert short_link_id("tag:la27eregion.fr,2024:18342") is None


def test_only_posts_have_keys_and_the_site_is_the_links_host() -> None:
    post = identity_of(
        kind="post", url=POST + "/", guid="https://ancien-domaine.example/?p=18342", wp_post_id=None
    )
    assert (post.site, post.wp_post_id) == ("www.la27eregion.fr", 18342)
    assert (
        post.canonical_key
        == identity_of(kind="post", url=POST, guid="x", wp_post_id=None).canonical_key
    )
    # An event's occurrences share one link: they are never merged by it.
    assert identity_of(kind="event", url=POST, guid="uid/1", wp_post_id=3).site is None
    assert site_of("http://127.0.0.1:8000/feed/") == "127.0.0.1:8000"


def test_feed_and_rest_api_state_the_same_post_id() -> None:
    rss = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=SITE + "feed/")
    rest = parse_posts(fixture_bytes("wp-posts.json"), base_url=SITE)
    assert rest.entries[0].post_id == 18342  # the REST `id`
    feed = identity_of(
        kind="post", url=rss.entries[0].url, guid=rss.entries[0].guid, wp_post_id=None
    )
    assert feed.wp_post_id == 18342  # from the `?p=18342` guid
    # Not part of what a reader sees: stating the id changes no content hash.
    unstated = dataclasses.replace(rest.entries[0], post_id=None)
    assert unstated.content_hash == rest.entries[0].content_hash


def test_a_feed_states_the_post_id_in_post_id_or_a_shortlink() -> None:
    feed = (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'"
        " xmlns:atom='http://www.w3.org/2005/Atom'><channel><title>Site</title>"
        "<item><title>Un</title><link>https://blog.example/un/</link><guid>tag:1</guid>"
        "<post-id xmlns='com-wordpress:feed-additions:1'>41</post-id></item>"
        "<item><title>Deux</title><link>https://blog.example/deux/</link><guid>tag:2</guid>"
        "<atom:link rel='shortlink' href='https://blog.example/?p=42'/></item>"
        "</channel></rss>"
    )
    entries = parse_feed(feed.encode(), base_url="https://blog.example/feed/").entries
    assert [e.post_id for e in entries] == [41, 42]
