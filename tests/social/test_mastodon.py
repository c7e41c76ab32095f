"""The Mastodon adapter against a local server speaking the statuses and media API."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatch.social.networks.base import PermanentError, TransientError, publish_once
from dispatch.social.networks.mastodon import MastodonPublisher
from dispatch.social.render import SocialContent, from_text, render
from tests.social.fakes import FakeMastodon, Scripted

PNG = Path(__file__).parents[1] / "fixtures" / "social" / "atelier.png"

CONTENT = SocialContent(
    kind="post",
    title="Innovation publique\u00a0: et si on «\u202fdépliait\u202f» l’évaluation\u202f?",
    url="https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/",
    excerpt="Retour sur une journée d’atelier avec des agents de trois régions.",
    topics=("blog", "onaime"),
    image_alt="Des post-it sur un mur pendant l’atelier",
    image_path=PNG,
)


@pytest.fixture
def server():
    with FakeMastodon() as fake:
        yield fake


def publisher(server: FakeMastodon, **kwargs) -> MastodonPublisher:
    return MastodonPublisher(api_base_url=server.url, access_token=server.token, **kwargs)


def test_publishes_status_with_image_alt_text_and_language(server):
    post = render("mastodon", CONTENT, created_at=datetime.now(UTC))
    published = publisher(server).publish(post, idempotency_key="dispatch-post-1")

    [status] = server.statuses
    assert published.remote_id == status["id"]
    assert published.url == status["url"]
    assert status["text"] == post.text
    assert "«\u202fdépliait\u202f»" in status["text"]
    assert CONTENT.url in status["text"]
    assert status["language"] == "fr"
    assert status["visibility"] == "public"
    [media] = status["media_attachments"]
    assert media["description"] == "Des post-it sur un mur pendant l’atelier"
    assert media["size"] == PNG.stat().st_size


def test_same_idempotency_key_gives_the_same_status(server):
    post = render("mastodon", CONTENT)
    pub = publisher(server)
    first = pub.publish(post, idempotency_key="dispatch-post-2")
    second = pub.publish(post, idempotency_key="dispatch-post-2")
    assert first == second
    assert len(server.statuses) == 1


def test_create_then_timeout_is_retried_without_a_second_status(server):
    server.stall_after_create = 1.5  # stores the post, then answers after the client gave up
    waits: list[float] = []
    published = publish_once(
        publisher(server, timeout=0.5),
        render("mastodon", CONTENT),
        idempotency_key="dispatch-post-3",
        attempts=3,
        sleep=waits.append,
    )
    assert len(waits) == 1  # one timeout, one retry
    assert len(server.statuses) == 1
    assert published.remote_id == server.statuses[0]["id"]


def test_validation_error_is_permanent_with_mastodon_message(server):
    server.max_characters = 100  # an instance with a lower limit than the default
    with pytest.raises(PermanentError) as err:
        publisher(server).publish(render("mastodon", CONTENT), idempotency_key="k4")
    assert "Text character limit of 100 exceeded" in err.value.message
    assert server.statuses == []


def test_rate_limit_is_transient_with_retry_after(server):
    server.fail_next.append(
        ("/api/v1/statuses", Scripted(429, {"error": "Too many requests"}, {"Retry-After": "7"}))
    )
    post = from_text("mastodon", "Bonjour\u00a0!", SocialContent(kind="post", title="", url=""))
    with pytest.raises(TransientError) as err:
        publisher(server).publish(post, idempotency_key="k5")
    assert err.value.retry_after == pytest.approx(7)

    waits: list[float] = []
    publish_once(publisher(server), post, idempotency_key="k5", attempts=2, sleep=waits.append)
    assert len(server.statuses) == 1


def test_server_error_is_transient_and_bad_token_permanent(server):
    server.fail_next.append(("/api/v1/statuses", Scripted(503, {"error": "Service Unavailable"})))
    post = render("mastodon", CONTENT)
    with pytest.raises(TransientError):
        publisher(server).publish(post, idempotency_key="k6")
    bad = MastodonPublisher(api_base_url=server.url, access_token="wrong")
    with pytest.raises(PermanentError) as err:
        bad.publish(post, idempotency_key="k6")
    assert "access token" in err.value.message


def test_repr_hides_the_token(server):
    assert server.token not in repr(publisher(server))
