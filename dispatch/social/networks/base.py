"""What every publisher promises, the errors it may raise, and retrying with backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

from dispatch.social.render import RenderedPost

T = TypeVar("T")


@dataclass(frozen=True)
class Published:
    """Where a post now lives on its network."""

    remote_id: str
    url: str


class PublishError(Exception):
    """A post could not be published; `message` is fit to show staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(PublishError):
    """Worth retrying: rate limited, the network is down or slow, a 5xx."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(PublishError):
    """Retrying will not help: the network refused the post, with its own reason."""


class Publisher(Protocol):
    """A channel a post can go out on. Implementations hide their credentials in repr."""

    network: str

    def publish(self, post: RenderedPost, *, idempotency_key: str) -> Published:
        """Publish `post` once: calling again with the same key must not post twice."""
        ...

    def find_existing(self, post: RenderedPost, *, idempotency_key: str) -> Published | None:
        """The post already published under this key (or for this content), if any."""
        ...


def with_retries(
    fn: Callable[[], T],
    *,
    attempts: int,
    base_delay: float,
    max_delay: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Call `fn` until it succeeds, retrying TransientError with exponential backoff.

    The wait before retry n (from 0) is `base_delay * 2**n`, scaled by a random factor in
    [0.5, 1) so that workers do not retry in step; a Retry-After from the network is a floor.
    A wait longer than `max_delay` is not slept: the error is raised so the caller can
    schedule the retry for later instead of holding a worker. PermanentError is not retried.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return fn()
        except TransientError as err:
            if attempt == attempts - 1:
                raise
            delay = base_delay * (2**attempt) * (0.5 + jitter() / 2)
            if err.retry_after is not None:
                delay = max(delay, err.retry_after)
            if delay > max_delay:
                raise
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def publish_once(
    publisher: Publisher,
    post: RenderedPost,
    *,
    idempotency_key: str,
    attempts: int = 4,
    base_delay: float = 2.0,
    max_delay: float = 60.0,
    uncertain: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Published:
    """Publish with retries, looking for the post first whenever an earlier try may have
    created it: before every retry, and before the first try if `uncertain` (a previous run
    crashed while publishing)."""
    tries = 0

    def attempt() -> Published:
        nonlocal tries
        tries += 1
        if uncertain or tries > 1:
            existing = publisher.find_existing(post, idempotency_key=idempotency_key)
            if existing is not None:
                return existing
        return publisher.publish(post, idempotency_key=idempotency_key)

    return with_retries(
        attempt, attempts=attempts, base_delay=base_delay, max_delay=max_delay, sleep=sleep
    )


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def status_error(status: int, message: str, *, retry_after: float | None = None) -> PublishError:
    """The error for an HTTP status: 429 and 5xx are transient, other 4xx permanent."""
    if status == 429 or status >= 500:
        return TransientError(f"HTTP {status}: {message}", retry_after=retry_after)
    return PermanentError(f"HTTP {status}: {message}")


_MIME_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_mime_type(data: bytes) -> str:
    """The image type from its first bytes (PNG, JPEG, GIF, WebP)."""
    for signature, mime in _MIME_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise PermanentError("the image is not a PNG, JPEG, GIF or WebP file")
