"""A Bluesky account publishing through the boundary, on a real local PDS."""

from __future__ import annotations

from datetime import timedelta

from dispatch.db import utcnow
from dispatch.social.models import SocialPost
from dispatch.social.networks.bluesky import record_key
from tests.social.test_bluesky import posts_in_repo
from tests.social.test_publishing import World


def test_bluesky_post_and_crash_retry_make_one_record(sessions, settings, pds, monkeypatch):
    monkeypatch.setenv("DISPATCH_TEST_BSKY_APP_PASSWORD", pds["password"])
    world = World(sessions, settings)
    world.add_account(
        network="bluesky",
        name="Bluesky",
        base_url=pds["pds_url"],
        handle=pds["handle"],
        mode="automatic",
        credentials_env="DISPATCH_TEST_BSKY",
    )
    world.add_item(
        title="Innovation publique\u00a0: et si on «\u202fdépliait\u202f» l’évaluation\u202f?",
        url="https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/",
    )
    [post_id] = world.consume()
    before = set(posts_in_repo(pds))

    assert world.publish(post_id).published
    row = world.post(post_id)
    with world.scope() as session:
        post = session.get(SocialPost, post_id)
        rkey = record_key(post.idempotency_key, post.created_at)
    assert row["remote_id"] == f"at://{pds['did']}/app.bsky.feed.post/{rkey}"
    assert row["remote_url"].endswith(f"/profile/{pds['handle']}/post/{rkey}")

    # The worker died after the write: the retry rebuilds the very same record key.
    world.update_post(
        post_id, status="publishing", attempts=1, lease_until=utcnow() - timedelta(seconds=1)
    )
    assert world.publish(post_id).published
    assert world.post(post_id)["remote_id"] == row["remote_id"]
    assert set(posts_in_repo(pds)) - before == {row["remote_id"]}
