"""The Bluesky adapter against a real PDS: records, facets, embeds, and no double posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from atproto import Client
from atproto_client.request import Request

from dispatch.social.networks.base import PermanentError, TransientError, publish_once
from dispatch.social.networks.bluesky import BlueskyPublisher, record_key
from dispatch.social.render import SocialContent, render

PNG = Path(__file__).parents[1] / "fixtures" / "social" / "atelier.png"

CONTENT = SocialContent(
    kind="post",
    title="Innovation publique\u00a0: et si on «\u202fdépliait\u202f» l’évaluation\u202f?",
    url="https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/",
    excerpt="Retour sur une journée d’atelier avec des agents de trois régions.",
    topics=("onaime",),
    image_alt="Des post-it sur un mur pendant l’atelier",
    image_path=PNG,
)


def publisher(pds, **kwargs) -> BlueskyPublisher:
    return BlueskyPublisher(
        pds_url=pds["pds_url"], handle=pds["handle"], app_password=pds["password"], **kwargs
    )


def posts_in_repo(pds) -> list[str]:
    client = Client(base_url=pds["pds_url"])
    client.login(pds["handle"], pds["password"], fetch_bsky_profile=False)
    listed = client.com.atproto.repo.list_records(
        {"repo": pds["did"], "collection": "app.bsky.feed.post", "limit": 100}
    )
    return [r.uri for r in listed.records]


def test_post_with_link_facet_card_and_thumbnail(pds):
    created = datetime.now(UTC)
    post = render("bluesky", CONTENT, created_at=created)
    pub = publisher(pds)
    published = pub.publish(post, idempotency_key="dispatch-social-post-1")

    rkey = record_key("dispatch-social-post-1", created)
    assert published.remote_id == f"at://{pds['did']}/app.bsky.feed.post/{rkey}"
    assert published.url == f"https://bsky.app/profile/{pds['handle']}/post/{rkey}"
    record = pub.get_record(rkey)
    assert record is not None
    assert record["text"] == post.text
    assert record["langs"] == ["fr"]
    [link] = [f for f in record["facets"] if f["features"][0]["$type"].endswith("#link")]
    assert link["features"][0]["uri"] == CONTENT.url
    shown = post.text.encode()[link["index"]["byteStart"] : link["index"]["byteEnd"]].decode()
    assert shown.startswith("la27eregion.fr/")
    [tag] = [f for f in record["facets"] if f["features"][0]["$type"].endswith("#tag")]
    assert tag["features"][0]["tag"] == "onaime"
    external = record["embed"]["external"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    assert external["uri"] == CONTENT.url
    assert external["title"] == CONTENT.title
    assert external["thumb"]["mimeType"] == "image/png"
    assert external["thumb"]["size"] == PNG.stat().st_size


def test_post_with_image_and_alt_text(pds):
    created = datetime.now(UTC)
    post = render("bluesky", CONTENT, created_at=created, embed="image")
    pub = publisher(pds)
    pub.publish(post, idempotency_key="dispatch-social-post-2")
    record = pub.get_record(record_key("dispatch-social-post-2", created))
    assert record is not None
    [image] = record["embed"]["images"]
    assert image["alt"] == "Des post-it sur un mur pendant l’atelier"
    assert image["image"]["size"] == PNG.stat().st_size


def test_publishing_again_with_the_same_key_does_not_make_a_second_record(pds):
    post = render("bluesky", CONTENT, created_at=datetime.now(UTC) - timedelta(minutes=5))
    before = len(posts_in_repo(pds))
    first = publisher(pds).publish(post, idempotency_key="dispatch-social-post-3")
    second = publisher(pds).publish(post, idempotency_key="dispatch-social-post-3")
    assert first.url == second.url
    assert len(posts_in_repo(pds)) == before + 1
    assert publisher(pds).find_existing(post, idempotency_key="dispatch-social-post-3") is not None
    assert publisher(pds).find_existing(post, idempotency_key="never-published") is None


class TimeoutAfterCreate(httpx.HTTPTransport):
    """Lets the PDS write the record, then tells the client it timed out (once)."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("com.atproto.repo.createRecord") and not self.stalled:
            self.stalled = True
            response.read()
            raise httpx.ReadTimeout("timed out", request=request)
        return response


def test_create_then_timeout_is_retried_without_a_second_record(pds):
    transport = TimeoutAfterCreate()
    pub = publisher(
        pds,
        client_factory=lambda: Client(
            base_url=pds["pds_url"], request=Request(transport=transport)
        ),
    )
    post = render("bluesky", CONTENT, created_at=datetime.now(UTC) - timedelta(minutes=9))
    before = len(posts_in_repo(pds))
    waits: list[float] = []
    published = publish_once(
        pub, post, idempotency_key="dispatch-social-post-4", attempts=3, sleep=waits.append
    )
    # The timed-out create is recognised at once: the record under our key is ours.
    assert transport.stalled
    assert len(posts_in_repo(pds)) == before + 1
    assert published.remote_id in posts_in_repo(pds)


def test_wrong_password_is_a_permanent_error(pds):
    bad = BlueskyPublisher(pds_url=pds["pds_url"], handle=pds["handle"], app_password="wrong")
    with pytest.raises(PermanentError):
        bad.publish(render("bluesky", CONTENT, created_at=datetime.now(UTC)), idempotency_key="x")
    assert "wrong" not in repr(bad)


def test_unreachable_pds_is_transient():
    pub = BlueskyPublisher(pds_url="http://127.0.0.1:9", handle="a.test", app_password="p")
    with pytest.raises(TransientError):
        pub.publish(render("bluesky", CONTENT, created_at=datetime.now(UTC)), idempotency_key="x")
