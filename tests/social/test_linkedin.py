"""The LinkedIn adapter against a local server speaking the Posts, Images and OAuth APIs."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from dispatch.social.networks.base import PermanentError, TransientError, publish_once
from dispatch.social.networks.linkedin import LinkedInPublisher, LinkedInToken
from dispatch.social.render import SocialContent, render
from tests.social.fakes import FakeLinkedIn, Scripted

PNG = Path(__file__).parents[1] / "fixtures" / "social" / "atelier.png"

CONTENT = SocialContent(
    kind="post",
    title="Innovation publique\u00a0: et si on «\u202fdépliait\u202f» l’évaluation\u202f?",
    url="https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/",
    excerpt=(
        "Atelier (3 régions) avec des agents_publics [et] des élus\u00a0: 100 % utile * vraiment."
    ),
    topics=("blog", "politiques-publiques"),
    image_alt="Des post-it sur un mur",
    image_path=PNG,
)


@pytest.fixture
def server():
    with FakeLinkedIn() as fake:
        yield fake


def publisher(server: FakeLinkedIn, *, token: LinkedInToken | None = None, **kwargs):
    return LinkedInPublisher(
        organization_id="2414183",
        token=token or LinkedInToken(access_token="li-token"),
        client_id="client",
        client_secret="client-secret",
        api_base=server.url,
        oauth_base=server.url,
        **kwargs,
    )


def test_publishes_article_post_with_thumbnail_as_the_organisation(server):
    post = render("linkedin", CONTENT)
    published = publisher(server).publish(post, idempotency_key="dispatch-post-1")

    [created] = server.posts
    assert published.remote_id == created["id"]
    assert published.url == f"https://www.linkedin.com/feed/update/{created['id']}/"
    assert created["author"] == "urn:li:organization:2414183"
    assert created["lifecycleState"] == "PUBLISHED"
    article = created["content"]["article"]
    assert article["source"] == CONTENT.url
    assert article["title"] == CONTENT.title
    assert server.images[article["thumbnail"]] == PNG.read_bytes()
    # Reserved characters of the little text format are escaped, hashtags stay hashtags.
    assert (
        r"Atelier \(3 régions\) avec des agents\_publics \[et\] des élus" in created["commentary"]
    )
    assert r"100 % utile \* vraiment" in created["commentary"]
    assert "#blog #PolitiquesPubliques" in created["commentary"]
    assert "«\u202fdépliait\u202f»" in created["commentary"]
    assert set(server.seen_versions) == {"202509"}


def test_create_then_timeout_finds_the_post_instead_of_posting_twice(server):
    server.stall_after_create = 1.5  # stores the post, then answers after the client gave up
    waits: list[float] = []
    published = publish_once(
        publisher(server, timeout=0.5),
        render("linkedin", CONTENT),
        idempotency_key="dispatch-post-2",
        attempts=3,
        sleep=waits.append,
    )
    assert len(waits) == 1  # one timeout, one retry
    assert len(server.posts) == 1
    assert published.remote_id == server.posts[0]["id"]


def test_uncertain_publish_after_a_crash_checks_first(server):
    post = render("linkedin", CONTENT)
    first = publisher(server).publish(post, idempotency_key="dispatch-post-3")
    again = publish_once(publisher(server), post, idempotency_key="dispatch-post-3", uncertain=True)
    assert again == first
    assert len(server.posts) == 1


def test_expiring_token_is_refreshed_and_handed_back(server):
    refreshed: list[LinkedInToken] = []
    token = LinkedInToken(access_token="expired", expires_at=1000.0, refresh_token="li-refresh")
    pub = publisher(server, token=token, on_token_refresh=refreshed.append, clock=lambda: 990.0)
    pub.publish(render("linkedin", CONTENT), idempotency_key="dispatch-post-4")
    assert len(server.posts) == 1
    [new] = refreshed
    assert new.access_token.startswith("li-token-")
    assert new.expires_at == 990.0 + 5184000
    assert "li-token-" not in repr(new) and "li-refresh" not in repr(new)


def test_expired_token_without_refresh_token_is_a_clear_permanent_error(server):
    token = LinkedInToken(access_token="li-token", expires_at=10.0)
    with pytest.raises(PermanentError) as err:
        publisher(server, token=token, clock=lambda: 20.0).publish(
            render("linkedin", CONTENT), idempotency_key="k"
        )
    assert "authorise the account again" in err.value.message


def test_unknown_version_and_validation_errors_are_permanent_with_linkedin_message(server):
    with pytest.raises(PermanentError) as err:
        publisher(server, version="").publish(render("linkedin", CONTENT), idempotency_key="k")
    assert "LinkedIn-Version" in err.value.message
    server.fail_next.append(
        ("/rest/posts", Scripted(422, {"status": 422, "message": "/commentary :: invalid"}))
    )
    with pytest.raises(PermanentError) as err:
        publisher(server).publish(render("linkedin", CONTENT), idempotency_key="k")
    assert "/commentary :: invalid" in err.value.message
    assert server.posts == []


def test_rate_limit_and_server_errors_are_transient(server):
    server.fail_next.append(
        (
            "/rest/posts",
            Scripted(429, {"status": 429, "message": "Too Many Requests"}, {"Retry-After": "30"}),
        )
    )
    with pytest.raises(TransientError) as err:
        publisher(server).publish(render("linkedin", CONTENT), idempotency_key="k")
    assert err.value.retry_after == 30
    server.fail_next.append(("/rest/posts", Scripted(500, {"status": 500, "message": "Internal"})))
    with pytest.raises(TransientError):
        publisher(server).publish(render("linkedin", CONTENT), idempotency_key="k")


def test_unreachable_api_is_transient():
    pub = LinkedInPublisher(
        organization_id="1",
        token=LinkedInToken(access_token="x"),
        api_base="http://127.0.0.1:9",
        session=requests.Session(),
    )
    with pytest.raises(TransientError):
        pub.publish(render("linkedin", CONTENT), idempotency_key="k")


def test_repr_hides_secrets(server):
    text = repr(publisher(server))
    assert "li-token" not in text and "client-secret" not in text
