"""The social tasks, run in this process on the demo: every new item reaches the outbox."""

from __future__ import annotations

import json

import pytest

from dispatch import demo
from dispatch.config import get_settings
from dispatch.content import desk
from dispatch.content.models import ContentItem
from dispatch.db import session_scope
from dispatch.social.demo import seed_social
from tests.conftest import Cli


def test_demo_items_land_in_the_outbox_for_every_account(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import social as tasks

    queued: list[tuple[str, tuple[object, ...]]] = []
    monkeypatch.setattr(tasks, "enqueue", lambda name, *args: queued.append((name, args)))
    settings = get_settings()
    with session_scope(cli.sessions()) as session:
        demo.ensure_topics(session)
        demo.seed_content(session, settings)
        seed_social(session, settings)
        # The occurrences of a recurring event share their page: one post for them all.
        items = len({url for (url,) in session.query(ContentItem.url)})
        # The demo's "Controverse" pick awaits approval on the editorial desk.
        waiting = len({decision.item.url for decision in desk.pending(session)})
    assert items >= 5 and waiting == 1  # blog posts, events and picks
    released = items - waiting

    tasks.consume_publications()
    # Automatic accounts without delay: the posts are handed straight to the publisher (which
    # leaves the waiting pick's posts alone).
    assert len(queued) == 3 * items
    assert {name for name, _ in queued} == {"social.publish_post"}
    queued.clear()
    tasks.publish_due()  # the beat tick finds the same due posts, less the waiting ones
    assert len(queued) == 3 * released

    for _, (post_id,) in queued:
        tasks.publish_post(post_id)
    queued.clear()
    tasks.publish_due()
    assert queued == []

    written = [
        json.loads(f.read_text(encoding="utf-8")) for f in settings.social_outbox_dir.glob("*.json")
    ]
    assert len(written) == 3 * released
    for network in ("mastodon", "bluesky", "linkedin"):
        texts = [w["text"] for w in written if w["network"] == network]
        assert len(texts) == released
        assert all(w["length"] <= w["limit"] for w in written if w["network"] == network)
