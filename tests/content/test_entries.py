"""Entries: a content hash that sees edits and ignores re-polls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dispatch.content.entries import ParsedEntry
from dispatch.content.rss import parse_feed
from dispatch.content.wordpress import parse_posts
from tests.content.feed_server import fixture_bytes

FEED_URL = "https://www.la27eregion.fr/feed/"


def _hashes(data: bytes) -> dict[str, str]:
    return {e.guid: e.content_hash for e in parse_feed(data, base_url=FEED_URL).entries}


def test_the_same_content_polled_twice_has_the_same_hash() -> None:
    assert _hashes(fixture_bytes("wordpress-rss2.xml")) == _hashes(
        fixture_bytes("wordpress-rss2.xml")
    )


def test_an_edited_title_changes_only_that_entry_hash() -> None:
    before = _hashes(fixture_bytes("wordpress-rss2.xml"))
    edited = fixture_bytes("wordpress-rss2.xml").replace(
        "le calme avant la tempête".encode(), "le calme après la tempête".encode()
    )

    after = _hashes(edited)

    changed = {guid for guid in before if before[guid] != after[guid]}
    assert changed == {"https://www.la27eregion.fr/?p=18201"}


def test_an_edited_summary_or_image_changes_the_hash() -> None:
    post = parse_posts(fixture_bytes("wp-posts.json"), base_url=FEED_URL).entries[0]

    assert replace(post, summary_html="<p>Nouveau chapeau</p>").content_hash != post.content_hash
    assert replace(post, image_url="https://x.example/b.jpg").content_hash != post.content_hash
    assert replace(post, status="unpublished").content_hash != post.content_hash


def test_a_touch_without_a_visible_change_keeps_the_hash() -> None:
    post = parse_posts(fixture_bytes("wp-posts.json"), base_url=FEED_URL).entries[0]
    assert post.updated_at is not None

    touched = replace(post, updated_at=post.updated_at + timedelta(hours=1))

    assert touched.content_hash == post.content_hash


def test_datetimes_are_stored_in_utc_and_must_be_aware() -> None:
    paris_summer = timezone(timedelta(hours=2))
    entry = ParsedEntry(
        guid="x",
        kind="event",
        title="AG",
        url=None,
        event_start=datetime(2024, 6, 7, 18, 0, tzinfo=paris_summer),
    )

    assert entry.event_start == datetime(2024, 6, 7, 16, 0, tzinfo=UTC)
    assert entry.event_start is not None
    assert entry.event_start.tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        ParsedEntry(guid="x", kind="post", title="t", url=None, published_at=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="kind"):
        ParsedEntry(guid="x", kind="tweet", title="t", url=None)  # type: ignore[arg-type]
