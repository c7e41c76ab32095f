"""LinkedIn organisation pages through the Posts API (REST, versioned), with requests.

LinkedIn has no idempotency key: before retrying a create whose outcome is unknown, the
organisation's recent posts are searched for one sharing the same link.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from dispatch.social.counting import escape_little_text
from dispatch.social.networks.base import (
    PermanentError,
    Published,
    TransientError,
    retry_after_seconds,
    status_error,
)
from dispatch.social.render import PostImage, RenderedPost

API_BASE = "https://api.linkedin.com"
OAUTH_BASE = "https://www.linkedin.com"
# LinkedIn supports each monthly version for about a year; staff can pin a newer one.
DEFAULT_VERSION = "202509"
REFRESH_MARGIN = 300.0  # seconds before expiry at which the access token is refreshed


@dataclass
class LinkedInToken:
    """OAuth tokens; expiries are Unix times (None: unknown)."""

    access_token: str = field(repr=False)
    expires_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: float | None = None


class LinkedInPublisher:
    """Posts as an organisation (`urn:li:organization:ID`) with a member's OAuth token."""

    network = "linkedin"

    def __init__(  # noqa: PLR0913 - the API's own settings, every one keyword-only
        self,
        *,
        organization_id: str,
        token: LinkedInToken,
        client_id: str = "",
        client_secret: str = "",
        version: str = DEFAULT_VERSION,
        api_base: str = API_BASE,
        oauth_base: str = OAUTH_BASE,
        timeout: float = 30.0,
        on_token_refresh: Callable[[LinkedInToken], None] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.author = (
            organization_id
            if organization_id.startswith("urn:li:")
            else f"urn:li:organization:{organization_id}"
        )
        self.token = token
        self.client_id = client_id
        self._client_secret = client_secret
        self.version = version
        self.api_base = api_base.rstrip("/")
        self.oauth_base = oauth_base.rstrip("/")
        self.timeout = timeout
        self.on_token_refresh = on_token_refresh
        self.session = session or requests.Session()
        self.clock = clock

    def __repr__(self) -> str:
        return f"LinkedInPublisher(author={self.author!r}, version={self.version!r}, token=***)"

    # -- Publisher -------------------------------------------------------------------------

    def publish(self, post: RenderedPost, *, idempotency_key: str) -> Published:
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": escape_little_text(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if post.card is not None:
            article: dict[str, Any] = {
                "source": post.card.url,
                "title": post.card.title,
                "description": post.card.description,
            }
            thumb = self._upload_image(post.card.thumb)
            if thumb:
                article["thumbnail"] = thumb
            body["content"] = {"article": article}
        elif post.image is not None:
            image = self._upload_image(post.image)
            if image:
                body["content"] = {"media": {"id": image, "altText": post.image.alt}}
        response = self._request("POST", "/rest/posts", json=body)
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if not urn:
            raise PermanentError("LinkedIn created the post but did not say its id")
        return Published(remote_id=urn, url=post_url(urn))

    def find_existing(self, post: RenderedPost, *, idempotency_key: str) -> Published | None:
        """A recent post of the organisation with the same link (or, with none, the same text)."""
        response = self._request(
            "GET",
            f"/rest/posts?author={quote(self.author, safe='')}&q=author&count=20"
            "&sortBy=LAST_MODIFIED",
            headers={"X-RestLi-Method": "FINDER"},
        )
        commentary = escape_little_text(post.text)
        for element in response.json().get("elements", []):
            article = (element.get("content") or {}).get("article") or {}
            same = (
                article.get("source") == post.link
                if post.link
                else element.get("commentary") == commentary
            )
            if same and element.get("id"):
                return Published(remote_id=element["id"], url=post_url(element["id"]))
        return None

    # -- token -----------------------------------------------------------------------------

    def ensure_token(self) -> None:
        """Refresh the access token if it expires within REFRESH_MARGIN seconds."""
        expires = self.token.expires_at
        if expires is None or expires - self.clock() > REFRESH_MARGIN:
            return
        if not self.token.refresh_token:
            raise PermanentError(
                "the LinkedIn access token has expired and there is no refresh token; "
                "authorise the account again"
            )
        try:
            response = self.session.post(
                f"{self.oauth_base}/oauth/v2/accessToken",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": self.token.refresh_token,
                    "client_id": self.client_id,
                    "client_secret": self._client_secret,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise TransientError(f"LinkedIn token refresh failed: {type(err).__name__}") from err
        if not response.ok:
            err_ = status_error(response.status_code, _message(response))
            raise type(err_)(f"LinkedIn token refresh refused: {err_.message}")
        data = response.json()
        now = self.clock()
        self.token = LinkedInToken(
            access_token=data["access_token"],
            expires_at=now + float(data.get("expires_in", 0)) if data.get("expires_in") else None,
            refresh_token=data.get("refresh_token") or self.token.refresh_token,
            refresh_expires_at=(
                now + float(data["refresh_token_expires_in"])
                if data.get("refresh_token_expires_in")
                else self.token.refresh_expires_at
            ),
        )
        if self.on_token_refresh is not None:
            self.on_token_refresh(self.token)

    # -- internals -------------------------------------------------------------------------

    def _upload_image(self, image: PostImage | None) -> str | None:
        data = image.read() if image is not None else None
        if not data:
            return None
        init = self._request(
            "POST",
            "/rest/images?action=initializeUpload",
            json={"initializeUploadRequest": {"owner": self.author}},
        ).json()["value"]
        try:
            upload = self.session.put(
                init["uploadUrl"],
                data=data,
                headers={"Authorization": f"Bearer {self.token.access_token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            raise TransientError(f"LinkedIn image upload failed: {type(err).__name__}") from err
        if not upload.ok:
            raise status_error(upload.status_code, f"image upload: {_message(upload)}")
        return str(init["image"])

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        self.ensure_token()
        all_headers = {
            "Authorization": f"Bearer {self.token.access_token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
            **(headers or {}),
        }
        try:
            response = self.session.request(
                method, self.api_base + path, json=json, headers=all_headers, timeout=self.timeout
            )
        except requests.Timeout as err:
            raise TransientError("LinkedIn did not answer in time") from err
        except requests.RequestException as err:
            raise TransientError(f"LinkedIn unreachable: {type(err).__name__}") from err
        if not response.ok:
            raise status_error(
                response.status_code,
                f"LinkedIn: {_message(response)}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        return response


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(data, dict):
        return str(
            data.get("message") or data.get("error_description") or data.get("error") or data
        )
    return str(data)[:300]
