"""The outbox channel, retrying with backoff, and credentials encrypted at rest."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from dispatch.social.crypto import CredentialCipher, CredentialError, generate_key
from dispatch.social.networks.base import (
    PermanentError,
    Published,
    TransientError,
    publish_once,
    retry_after_seconds,
    with_retries,
)
from dispatch.social.networks.outbox import OutboxPublisher
from dispatch.social.render import SocialContent, render

CONTENT = SocialContent(
    kind="pick",
    title="Un rapport sur la participation citoyenne",
    url="https://example.org/rapport",
    pick_comment="À lire absolument\u00a0!",
    pick_tag="onaime",
    topics=("onaime", "mustread"),
)


def test_outbox_writes_one_json_file_per_key(tmp_path):
    outbox = OutboxPublisher(tmp_path / "social", network="mastodon", account="@lab@example.org")
    post = render("mastodon", CONTENT)
    first = outbox.publish(post, idempotency_key="dispatch-post-7")
    second = outbox.publish(post, idempotency_key="dispatch-post-7")
    files = list((tmp_path / "social").glob("*.json"))
    assert first == second
    assert len(files) == 1
    written = json.loads(files[0].read_text(encoding="utf-8"))
    assert written["text"] == post.text
    assert written["text"].startswith("#onaime Un rapport")
    assert "#mustread" in written["text"]
    assert written["network"] == "mastodon"
    assert written["account"] == "@lab@example.org"
    assert outbox.find_existing(post, idempotency_key="dispatch-post-7") == first
    assert outbox.find_existing(post, idempotency_key="other") is None


def test_outbox_key_cannot_escape_the_folder(tmp_path):
    outbox = OutboxPublisher(tmp_path / "out")
    outbox.publish(render("bluesky", CONTENT), idempotency_key="../../etc/passwd")
    assert [p.parent for p in tmp_path.rglob("*.json")] == [tmp_path / "out"]


def test_with_retries_backs_off_and_honours_retry_after():
    calls = iter([TransientError("busy"), TransientError("slow down", retry_after=9.0), "done"])

    def fn():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    waits: list[float] = []
    assert (
        with_retries(fn, attempts=3, base_delay=2.0, sleep=waits.append, jitter=lambda: 1.0)
        == "done"
    )
    assert waits[0] == pytest.approx(2.0)
    assert waits[1] == pytest.approx(9.0)  # Retry-After beats the 4 s backoff


def test_with_retries_gives_up_and_does_not_retry_permanent_errors():
    attempts = []

    def transient():
        attempts.append(1)
        raise TransientError("down")

    with pytest.raises(TransientError):
        with_retries(transient, attempts=3, base_delay=0.1, sleep=lambda s: None)
    assert len(attempts) == 3

    def permanent():
        attempts.append(1)
        raise PermanentError("422: refused")

    attempts.clear()
    with pytest.raises(PermanentError):
        with_retries(permanent, attempts=3, base_delay=0.1, sleep=lambda s: None)
    assert len(attempts) == 1


def test_a_long_retry_after_is_left_to_the_scheduler():
    def fn():
        raise TransientError("rate limited", retry_after=900)

    waits: list[float] = []
    with pytest.raises(TransientError) as err:
        with_retries(fn, attempts=5, base_delay=1, max_delay=60, sleep=waits.append)
    assert waits == []
    assert err.value.retry_after == 900


def test_retry_after_header_forms():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert retry_after_seconds("soon") is None


def test_publish_once_returns_what_an_earlier_try_published():
    class Flaky:
        network = "test"

        def __init__(self):
            self.created: list[str] = []

        def publish(self, post, *, idempotency_key):
            self.created.append(idempotency_key)
            raise TransientError("timed out after the write")

        def find_existing(self, post, *, idempotency_key):
            return Published("remote-1", "https://x/1") if self.created else None

    flaky = Flaky()
    result = publish_once(
        flaky, render("mastodon", CONTENT), idempotency_key="k", sleep=lambda s: None
    )
    assert result == Published("remote-1", "https://x/1")
    assert flaky.created == ["k"]


def test_credentials_round_trip_and_rotate():
    old = generate_key()
    cipher = CredentialCipher([old])
    token = cipher.encrypt({"access_token": "s3cret"})
    assert b"s3cret" not in token
    new = generate_key()
    rotated_cipher = CredentialCipher.from_setting(f"{new},{old}")
    assert rotated_cipher.decrypt(token) == {"access_token": "s3cret"}
    rotated = rotated_cipher.rotate(token)
    assert CredentialCipher([new]).decrypt(rotated) == {"access_token": "s3cret"}
    with pytest.raises(CredentialError):
        CredentialCipher([old]).decrypt(rotated)
    assert old not in repr(rotated_cipher) and new not in repr(rotated_cipher)


def test_credentials_key_problems_say_what_to_do():
    with pytest.raises(CredentialError, match="DISPATCH_SOCIAL__CREDENTIALS_KEY"):
        CredentialCipher.from_setting(None)
    with pytest.raises(CredentialError, match="not a Fernet key"):
        CredentialCipher(["not-a-key"])
    with pytest.raises(CredentialError, match="cannot be decrypted"):
        CredentialCipher([Fernet.generate_key().decode()]).decrypt(b"garbage")
