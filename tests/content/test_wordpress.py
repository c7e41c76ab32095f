"""The WordPress REST API: posts with `_embed`, The Events Calendar's events, paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dispatch.content.entries import ParseError
from dispatch.content.fetch import FetchPolicy, fetch
from dispatch.content.wordpress import (
    events_url,
    parse_posts,
    parse_tribe_events,
    posts_url,
    total_pages,
)
from tests.content.feed_server import FeedServer, fixture_bytes

SITE = "https://www.la27eregion.fr/"


def test_posts_come_with_featured_image_terms_and_author() -> None:
    result = parse_posts(fixture_bytes("wp-posts.json"), base_url=SITE)

    post = result.entries[0]
    assert post.guid == "https://www.la27eregion.fr/?p=18342"
    assert (
        post.title
        == "Innovation publique\u00a0: et si on «\u00a0dépliait\u00a0» l’évaluation\u00a0?"
    )
    assert (
        post.url == "https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/"
    )
    assert post.image_url == "https://www.la27eregion.fr/wp-content/uploads/2024/07/depliage.jpg"
    assert post.image_alt == "Un carnet déplié sur une table d’atelier"
    assert post.author == "Claire Moreau"
    assert post.categories == (
        "Blog",
        "Évaluation & prospective",
        "Transformation publique",
        "Quadrant Conseil",
    )
    assert post.published_at == datetime(2024, 7, 17, 8, 12, 40, tzinfo=UTC)
    assert post.updated_at == datetime(2024, 7, 18, 7, 5, 11, tzinfo=UTC)
    assert post.summary_html.endswith("nous avons…</p>")
    assert "[" not in post.excerpt


def test_a_post_whose_image_is_private_still_comes_in_without_it() -> None:
    post = parse_posts(fixture_bytes("wp-posts.json"), base_url=SITE).entries[1]

    assert post.title == "AG de la 27e Région\u00a0: le calme avant la tempête"
    assert post.image_url is None
    assert post.categories == ("Blog", "Vie de l'asso")


def test_the_same_post_has_the_same_guid_in_rss_and_rest() -> None:
    from dispatch.content.rss import parse_feed

    rss = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=SITE + "feed/")
    rest = parse_posts(fixture_bytes("wp-posts.json"), base_url=SITE)

    assert rss.entries[0].guid == rest.entries[0].guid


def test_a_post_without_a_link_is_skipped_and_the_others_come_in() -> None:
    result = parse_posts(fixture_bytes("wp-posts.json"), base_url=SITE)

    assert len(result.entries) == 2
    assert result.skipped == [("18400", "no http(s) link")]


def test_a_post_that_is_no_longer_published_is_marked_so() -> None:
    posts = json.loads(fixture_bytes("wp-posts.json"))
    posts[0]["status"] = "draft"

    post = parse_posts(json.dumps(posts).encode(), base_url=SITE).entries[0]

    assert post.status == "unpublished"


def test_a_password_protected_post_shows_no_summary() -> None:
    posts = json.loads(fixture_bytes("wp-posts.json"))
    posts[0]["excerpt"] = {"rendered": "<p>Texte réservé</p>", "protected": True}

    post = parse_posts(json.dumps(posts).encode(), base_url=SITE).entries[0]

    assert post.summary_html == ""
    assert "réservé" not in post.excerpt


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"code":"rest_no_route","message":"Aucune route correspondante."}', "rest_no_route"),
        (b"<html>not json</html>", "not JSON"),
        (b'{"posts": []}', "expected a list of posts"),
    ],
)
def test_what_is_not_a_page_of_posts_is_an_error(payload: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_posts(payload, base_url=SITE)


def test_tribe_events_with_venue_timezone_and_all_day() -> None:
    result = parse_tribe_events(fixture_bytes("tribe-events.json"), base_url=SITE)

    assembly, summer = result.entries
    assert assembly.kind == "event"
    assert assembly.title == "Assemblée générale de la 27e Région"
    # 18:00 in Paris in June is 16:00 UTC.
    assert assembly.event_start == datetime(2024, 6, 7, 16, 0, tzinfo=UTC)
    assert assembly.event_end == datetime(2024, 6, 7, 19, 30, tzinfo=UTC)
    assert not assembly.all_day
    assert assembly.location == "Péniche Antipode, 55 quai de la Seine, 75019 Paris"
    assert assembly.image_url == "https://www.la27eregion.fr/wp-content/uploads/2024/05/peniche.jpg"
    assert assembly.image_alt == "La péniche amarrée bassin de la Villette"
    assert assembly.categories == ("Vie de l'asso", "AG")
    assert "<script" not in assembly.summary_html
    assert "alert" not in assembly.summary_html

    assert summer.all_day
    assert summer.title == "Université d’été «\u00a0Chantiers publics\u00a0»"
    assert summer.event_start is not None
    assert summer.event_end is not None
    assert (summer.event_start.date().isoformat(), summer.event_end.date().isoformat()) == (
        "2024-07-03",
        "2024-07-05",
    )
    assert summer.location is None
    assert summer.summary_html == "<p>Trois jours pour déplier nos pratiques…</p>"


def test_tribe_events_keep_their_cost_organiser_registration_and_online_link() -> None:
    assembly, summer = parse_tribe_events(fixture_bytes("tribe-events.json"), base_url=SITE).entries

    assert assembly.cost == "Gratuit"
    assert assembly.organiser == "La 27e Région"
    assert assembly.registration_url == (
        "https://www.helloasso.com/associations/la-27e-region/evenements/ag-2024"
    )
    assert assembly.event_timezone == "Europe/Paris"
    assert assembly.online_url is None
    assert summer.online_url == "https://visio.la27eregion.fr/universite-ete"
    assert summer.event_timezone is None  # all day: a date, in no zone


def test_a_cancelled_tribe_event_leaves_the_queues_as_cancelled() -> None:
    page = json.loads(fixture_bytes("tribe-events.json"))
    page["events"][0]["event_status"] = "canceled"
    entry = parse_tribe_events(json.dumps(page).encode(), base_url=SITE).entries[0]

    assert entry.event_status == "cancelled"
    assert entry.status == "unpublished"


def test_an_event_without_a_date_is_skipped() -> None:
    result = parse_tribe_events(fixture_bytes("tribe-events.json"), base_url=SITE)

    assert result.skipped == [("18310", "no readable start date")]


def test_an_event_given_only_in_local_time_is_read_in_its_timezone() -> None:
    page = json.loads(fixture_bytes("tribe-events.json"))
    event = page["events"][0]
    del event["utc_start_date"], event["utc_end_date"]
    event["start_date"], event["end_date"] = "2024-12-10 18:00:00", "2024-12-10 20:00:00"

    entry = parse_tribe_events(json.dumps(page).encode(), base_url=SITE).entries[0]

    # 18:00 in Paris in December is 17:00 UTC.
    assert entry.event_start == datetime(2024, 12, 10, 17, 0, tzinfo=UTC)


def test_urls_for_paging() -> None:
    assert posts_url("https://www.la27eregion.fr", page=2, per_page=50) == (
        "https://www.la27eregion.fr/wp-json/wp/v2/posts"
        "?_embed=1&per_page=50&page=2&orderby=modified&order=desc"
    )
    since = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert "modified_after=2024-07-01T10%3A00%3A00" in posts_url(SITE, modified_after=since)
    assert events_url("https://www.la27eregion.fr/blog/", start_date=since) == (
        "https://www.la27eregion.fr/blog/wp-json/tribe/events/v1/events"
        "?per_page=20&page=1&start_date=2024-07-01+10%3A00%3A00"
    )
    assert total_pages({"X-WP-Total": "42", "X-WP-TotalPages": "3"}) == 3
    assert total_pages({"x-wp-totalpages": "oops"}) == 1
    assert total_pages({}) == 1


def test_a_page_fetched_over_http_parses(server: FeedServer) -> None:
    response = fetch(
        server.url("/fixtures/wp-posts.json"), policy=FetchPolicy(allow_private_hosts=True)
    )

    result = parse_posts(response.body, base_url=response.url)

    assert len(result.entries) == 2
