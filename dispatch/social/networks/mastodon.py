"""Mastodon (any instance) through Mastodon.py.

The status is created with an `Idempotency-Key` header derived from our post: Mastodon
returns the same status for the same key instead of making a second one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests
from dateutil.parser import isoparse
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)

from dispatch.social.networks.base import (
    PermanentError,
    Published,
    TransientError,
    image_mime_type,
    retry_after_seconds,
)
from dispatch.social.render import RenderedPost


class MastodonPublisher:
    """Posts statuses to one account on a Mastodon instance with an access token."""

    network = "mastodon"

    def __init__(
        self,
        *,
        api_base_url: str,
        access_token: str,
        visibility: str = "public",
        timeout: float = 30.0,
    ) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self._token = access_token
        self.visibility = visibility
        self.timeout = timeout
        self._last_headers: dict[str, str] = {}
        self._client: Mastodon | None = None

    def __repr__(self) -> str:
        return f"MastodonPublisher(api_base_url={self.api_base_url!r}, access_token=***)"

    def publish(self, post: RenderedPost, *, idempotency_key: str) -> Published:
        try:
            client = self._mastodon()
            media_ids = []
            if post.image is not None:
                data = post.image.read()
                if data:
                    media = client.media_post(
                        data, mime_type=image_mime_type(data), description=post.image.alt or None
                    )
                    media_ids.append(media["id"])
            status = client.status_post(
                post.text,
                media_ids=media_ids or None,
                visibility=self.visibility,
                language=post.language,
                idempotency_key=idempotency_key,
            )
        except MastodonError as err:
            raise self._mapped(err) from err
        return Published(remote_id=str(status["id"]), url=str(status["url"] or status["uri"]))

    def find_existing(self, post: RenderedPost, *, idempotency_key: str) -> Published | None:
        # Publishing again with the same Idempotency-Key returns the status an earlier try
        # made, so there is nothing to look up first.
        return None

    def _mastodon(self) -> Mastodon:
        if self._client is None:
            session = requests.Session()
            session.hooks["response"].append(self._remember_headers)
            client = Mastodon(
                api_base_url=self.api_base_url,
                access_token=self._token,
                request_timeout=self.timeout,
                # Rate limits are the worker's to wait out (it can reschedule), not a sleep here.
                ratelimit_method="throw",
                session=session,
            )
            # Learn the server's version now, failing loudly: Mastodon.py otherwise retries
            # the lookup from inside later calls, without end when the server is unreachable.
            client.retrieve_mastodon_version(fail_hard=True)
            self._client = client
        return self._client

    def _remember_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last_headers = dict(response.headers)

    def _mapped(self, err: MastodonError) -> TransientError | PermanentError:
        if isinstance(err, MastodonVersionError) and isinstance(err.__cause__, MastodonError):
            err = err.__cause__
        if isinstance(err, MastodonRatelimitError):
            return TransientError("Mastodon rate limit reached", retry_after=self._retry_after())
        if isinstance(err, MastodonNetworkError):
            return TransientError(f"Mastodon unreachable: {err}")
        status, message = _status_and_message(err)
        if isinstance(err, MastodonServerError) or (status is not None and status >= 500):
            return TransientError(f"Mastodon server error {status}: {message}")
        if status == 429:
            return TransientError(
                f"Mastodon rate limit: {message}", retry_after=self._retry_after()
            )
        if isinstance(err, MastodonUnauthorizedError):
            return PermanentError(f"Mastodon refused the access token: {message}")
        if isinstance(err, MastodonAPIError) and status is not None:
            return PermanentError(f"Mastodon refused the post ({status}): {message}")
        return PermanentError(f"Mastodon: {err}")

    def _retry_after(self) -> float | None:
        headers = {k.lower(): v for k, v in self._last_headers.items()}
        seconds = retry_after_seconds(headers.get("retry-after"))
        if seconds is not None:
            return seconds
        reset = headers.get("x-ratelimit-reset")
        if reset:
            try:
                when = isoparse(reset)
            except ValueError:
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        return None


def _status_and_message(err: MastodonError) -> tuple[int | None, str]:
    # Mastodon.py raises MastodonAPIError("Mastodon API returned error", status, reason, error).
    args = err.args
    status = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    message = ""
    if len(args) > 3 and args[3]:
        message = str(args[3])
    elif len(args) > 2 and args[2]:
        message = str(args[2])
    return status, message or str(err)
