"""Bluesky (any AT Protocol PDS) through the `atproto` SDK.

A post is an `app.bsky.feed.post` record whose key (rkey) is derived from our post, so a
retried create finds the record the first try made instead of making a second post.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from atproto import Client, models
from atproto_client.exceptions import (
    BadRequestError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import Request

from dispatch.social.networks.base import (
    PermanentError,
    Published,
    TransientError,
)
from dispatch.social.render import PostImage, RenderedPost

POST_COLLECTION = "app.bsky.feed.post"
MAX_BLOB_BYTES = 1_000_000  # the post lexicon's limit on an image or a thumbnail
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def record_key(idempotency_key: str, created_at: datetime) -> str:
    """The post's record key: a TID (as the post lexicon requires) from our post's creation
    time, with a clock id from the idempotency key, so the same post always gets the same key.
    """
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    micros = int(created_at.timestamp()) * 1_000_000 + created_at.microsecond
    # Spread posts made in the same microsecond; the 10 low bits are the TID's clock id.
    micros += int.from_bytes(digest[:2], "big") % 1000
    value = ((micros & ((1 << 53) - 1)) << 10) | (int.from_bytes(digest[2:4], "big") & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class BlueskyPublisher:
    """Posts to one account on a PDS, logging in with the handle and an app password."""

    network = "bluesky"

    def __init__(
        self,
        *,
        pds_url: str,
        handle: str,
        app_password: str,
        did: str | None = None,
        web_url: str = "https://bsky.app",
        timeout: float = 30.0,
        client_factory: Callable[[], Client] | None = None,
    ) -> None:
        self.pds_url = pds_url.rstrip("/")
        self.handle = handle
        self._password = app_password
        self._did = did
        self.web_url = web_url.rstrip("/")
        self.timeout = timeout
        self._client_factory = client_factory
        self._client: Client | None = None

    def __repr__(self) -> str:
        return f"BlueskyPublisher(pds_url={self.pds_url!r}, handle={self.handle!r}, password=***)"

    # -- Publisher -------------------------------------------------------------------------

    def publish(self, post: RenderedPost, *, idempotency_key: str) -> Published:
        created_at = post.created_at
        if created_at is None:
            raise PermanentError(
                "a Bluesky post needs its creation time to derive a stable record key"
            )
        rkey = record_key(idempotency_key, created_at)
        try:
            client, did = self._session()
            record = self._record(client, post, created_at)
            try:
                response = client.com.atproto.repo.create_record(
                    models.ComAtprotoRepoCreateRecord.Data(
                        repo=did, collection=POST_COLLECTION, rkey=rkey, record=record
                    )
                )
            except RequestErrorBase as err:
                # An earlier try may already have written this key (a timeout after the
                # write): then the record is there and is ours. PDSs answer that conflict
                # differently (400, 409, even 500), so look whatever the error.
                existing = self._get(client, did, rkey)
                if existing is None:
                    raise
                if existing.get("text") != post.text:
                    raise PermanentError(
                        f"record key {rkey} already holds a different post on {self.handle}"
                    ) from err
                return self._published(did, rkey)
        except RequestErrorBase as err:
            raise _mapped(err) from err
        return self._published(did, rkey, uri=response.uri)

    def find_existing(self, post: RenderedPost, *, idempotency_key: str) -> Published | None:
        if post.created_at is None:
            return None
        rkey = record_key(idempotency_key, post.created_at)
        try:
            client, did = self._session()
            found = self._get(client, did, rkey)
        except RequestErrorBase as err:
            raise _mapped(err) from err
        return None if found is None else self._published(did, rkey)

    def get_record(self, rkey: str) -> dict[str, Any] | None:
        """The post record stored under `rkey` in this account's repo, as JSON."""
        try:
            client, did = self._session()
            return self._get(client, did, rkey)
        except RequestErrorBase as err:
            raise _mapped(err) from err

    # -- internals -------------------------------------------------------------------------

    def _session(self) -> tuple[Client, str]:
        if self._client is None:
            if self._client_factory is not None:
                client = self._client_factory()
            else:
                client = Client(base_url=self.pds_url, request=Request(timeout=self.timeout))
            # No AppView may be reachable from the PDS: skip the profile lookup.
            client.login(self.handle, self._password, fetch_bsky_profile=False)
            if self._did is None:
                self._did = client.com.atproto.server.get_session().did
            self._client = client
        assert self._did is not None
        return self._client, self._did

    def _record(
        self, client: Client, post: RenderedPost, created_at: datetime
    ) -> models.AppBskyFeedPost.Record:
        facets = [
            models.AppBskyRichtextFacet.Main(
                index=models.AppBskyRichtextFacet.ByteSlice(
                    byte_start=f.byte_start, byte_end=f.byte_end
                ),
                features=[
                    models.AppBskyRichtextFacet.Link(uri=f.value)
                    if f.kind == "link"
                    else models.AppBskyRichtextFacet.Tag(tag=f.value)
                ],
            )
            for f in post.facets
        ]
        embed: models.AppBskyEmbedExternal.Main | models.AppBskyEmbedImages.Main | None = None
        if post.card is not None:
            thumb = self._upload(client, post.card.thumb, required=False)
            embed = models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=post.card.url,
                    title=post.card.title,
                    description=post.card.description,
                    thumb=thumb,
                )
            )
        elif post.image is not None:
            blob = self._upload(client, post.image, required=True)
            if blob is not None:
                embed = models.AppBskyEmbedImages.Main(
                    images=[models.AppBskyEmbedImages.Image(alt=post.image.alt, image=blob)]
                )
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        return models.AppBskyFeedPost.Record(
            text=post.text,
            created_at=created_at.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            langs=[post.language],
            facets=facets or None,
            embed=embed,
        )

    def _upload(
        self, client: Client, image: PostImage | None, *, required: bool
    ) -> models.BlobRef | None:
        data = image.read() if image is not None else None
        if not data:
            return None
        if len(data) > MAX_BLOB_BYTES:
            if required:
                raise PermanentError(
                    f"the image is {len(data)} bytes; Bluesky accepts at most {MAX_BLOB_BYTES}"
                )
            return None  # a card without a thumbnail is better than no post
        return client.upload_blob(data).blob

    def _get(self, client: Client, did: str, rkey: str) -> dict[str, Any] | None:
        try:
            response = client.com.atproto.repo.get_record(
                models.ComAtprotoRepoGetRecord.Params(
                    repo=did, collection=POST_COLLECTION, rkey=rkey
                )
            )
        except BadRequestError as err:
            if _error_name(err) == "RecordNotFound":
                return None
            raise
        value = response.value
        if isinstance(value, dict):
            return value
        dumped: dict[str, Any] = value.model_dump(by_alias=True, exclude_none=True)
        return dumped

    def _published(self, did: str, rkey: str, uri: str | None = None) -> Published:
        return Published(
            remote_id=uri or f"at://{did}/{POST_COLLECTION}/{rkey}",
            url=f"{self.web_url}/profile/{self.handle}/post/{rkey}",
        )


def _error_name(err: RequestErrorBase) -> str:
    content = err.response.content if err.response is not None else None
    return getattr(content, "error", "") or ""


def _error_message(err: RequestErrorBase) -> str:
    content = err.response.content if err.response is not None else None
    name = getattr(content, "error", None)
    message = getattr(content, "message", None)
    if name or message:
        return ": ".join(str(p) for p in (name, message) if p)
    return str(err) or type(err).__name__


def _mapped(err: RequestErrorBase) -> TransientError | PermanentError:
    """The SDK's exception as TransientError or PermanentError."""
    if isinstance(err, RateLimitExceededError):
        retry_after = err.retry_after
        if retry_after is None and err.reset_at is not None:
            retry_after = max(0.0, (err.reset_at - datetime.now(UTC)).total_seconds())
        return TransientError(f"Bluesky rate limit: {_error_message(err)}", retry_after=retry_after)
    if isinstance(err, UnauthorizedError):
        return PermanentError(f"Bluesky refused the credentials: {_error_message(err)}")
    status = err.response.status_code if err.response is not None else None
    if status is None or status >= 500:
        return TransientError(f"Bluesky unavailable: {_error_message(err)}")
    return PermanentError(f"Bluesky refused the post: {_error_message(err)}")
