"""The content commands a staff member types, against a real feed served locally."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Cli
from tests.content.site import Site, running_site
from tests.content.test_polling import FIXTURES, POST_A, POST_B, POSTS_PATH, rss


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("DISPATCH_CONTENT__ALLOW_PRIVATE_HOSTS", "true")
    with running_site() as site:
        yield site


def _topics(cli: Cli) -> None:
    for slug, fr, en in (
        ("blog", "Blog", "Blog"),
        ("events", "Évènements", "Events"),
        ("onaime", "On aime", "We like"),
    ):
        assert cli("topics", "add", slug, "--fr", fr, "--en", en).exit_code == 0


def test_add_poll_and_list_a_feed(cli: Cli, site: Site) -> None:
    _topics(cli)
    site.serve("/feed/", rss(POST_A, POST_B))
    added = cli("sources", "add", site.url("/feed/"), "--kind", "rss", "--topic", "blog")
    assert added.exit_code == 0, added.output
    polled = cli("sources", "poll", "--all")
    assert polled.exit_code == 0, polled.output
    assert "2 new" in polled.output
    listed = json.loads(cli("items", "list", "--json").output)
    assert {row["title"] for row in listed} == {POST_A[1], POST_B[1]}
    assert all(row["topics"] == ["blog"] for row in listed)
    sources = json.loads(cli("sources", "list", "--json").output)
    assert sources[0]["last_status"] == "ok"
    assert sources[0]["last_result"].startswith("2 new")


def test_poll_of_a_broken_source_reports_and_fails(cli: Cli, site: Site) -> None:
    _topics(cli)
    site.serve("/gone/", b"nope", "text/plain", status=500)
    cli("sources", "add", site.url("/gone/"), "--kind", "rss", "--topic", "blog")
    result = cli("sources", "poll", "1")
    assert result.exit_code == 1
    assert "HTTP 500" in result.output
    assert "HTTP 500" in cli("sources", "list").output


def test_bad_input_gets_a_clear_error(cli: Cli) -> None:
    _topics(cli)
    wrong_topic = cli(
        "sources", "add", "https://www.la27eregion.fr/feed/", "--kind", "rss", "--topic", "nope"
    )
    assert wrong_topic.exit_code == 1
    assert "unknown topic(s): nope" in wrong_topic.output
    wrong_kind = cli("sources", "add", "https://www.la27eregion.fr/feed/", "--kind", "gopher")
    assert "unknown source kind" in wrong_kind.output
    not_http = cli("sources", "add", "file:///etc/passwd", "--kind", "rss")
    assert "is not an http(s) URL" in not_http.output


def test_add_a_pick_and_filter_by_topic(cli: Cli) -> None:
    _topics(cli)
    result = cli(
        "items",
        "add-pick",
        "--url",
        "https://www.example.org/podcast",
        "--title",
        "Un podcast « à écouter »",
        "--tag",
        "onaime",
        "--comment",
        "On aime !",
    )
    assert result.exit_code == 0, result.output
    picks = json.loads(cli("items", "list", "--topic", "onaime", "--json").output)
    assert [(p["kind"], p["tag"], p["title"], p["comment"]) for p in picks] == [
        ("pick", "onaime", "Un podcast « à écouter »", "On aime !")
    ]
    assert json.loads(cli("items", "list", "--topic", "blog", "--json").output) == []
    again = cli(
        "items",
        "add-pick",
        "--url",
        "https://www.example.org/podcast",
        "--title",
        "x",
        "--tag",
        "onaime",
    )
    assert again.exit_code == 1 and "already a pick" in again.output


def test_topics_list(cli: Cli) -> None:
    _topics(cli)
    topics = json.loads(cli("topics", "list", "--json").output)
    assert [t["slug"] for t in topics] == ["blog", "events", "onaime"]


def test_a_post_in_the_feed_and_the_rest_api_is_shown_once_with_both_sources(
    cli: Cli, site: Site
) -> None:
    _topics(cli)
    site.serve("/feed/", (FIXTURES / "wordpress-rss2.xml").read_bytes())
    site.serve(POSTS_PATH, (FIXTURES / "wp-posts.json").read_bytes(), "application/json")
    cli("sources", "add", site.url("/feed/"), "--kind", "rss", "--topic", "blog")
    cli("sources", "add", site.url("/"), "--kind", "wordpress", "--topic", "blog")
    polled = cli("sources", "poll", "--all")
    assert "2 merged" in polled.output, polled.output

    assert len(cli("items", "list").output.splitlines()) == 3  # one line per item
    (post,) = [
        row for row in json.loads(cli("items", "list", "--json").output) if "depliait" in row["url"]
    ]
    shown = json.loads(cli("items", "show", str(post["id"]), "--json").output)
    assert [s["kind"] for s in shown["sources"]] == ["rss", "wordpress"]
    assert shown["sources"][0]["guid"] == "https://www.la27eregion.fr/?p=18342"
    text = cli("items", "show", str(post["id"])).output
    assert "sources (2):" in text
    assert site.url("/feed/") in text and site.url("/") in text
    missing = cli("items", "show", "999")
    assert missing.exit_code == 1 and "there is no item 999" in missing.output
