"""Local HTTP servers speaking the documented Mastodon and LinkedIn APIs, for the adapters' tests.

Each runs in a thread on 127.0.0.1. Tests drive them through the real client libraries and
can script failures: `fail_next` answers the next matching requests with an error, and
`stall_after_create` stores a post and then answers too late for the client.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import regex


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A threaded HTTP server whose handler calls `self.handle(request)`."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload, delay = outer.dispatch(
                    self.command, self.path, dict(self.headers.items()), body
                )
                if delay:
                    time.sleep(delay)
                data = json.dumps(payload).encode() if payload is not None else b""
                try:
                    self.send_response(status)
                    if payload is not None:
                        self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as the test intended

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server names

        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[tuple[str, Scripted]] = []  # (path prefix, answer)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a stalled answer must not hold up teardown
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any, float]:
        with self.lock:
            self.requests.append((method, path))
            for i, (prefix, answer) in enumerate(self.fail_next):
                if path.startswith(prefix):
                    del self.fail_next[i]
                    return answer.status, answer.headers, answer.body, 0.0
        return self.handle(method, path, {k.lower(): v for k, v in headers.items()}, body)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any, float]:
        raise NotImplementedError

    stall_after_create = 0.0
    stalls = 0

    def _stall(self) -> float:
        with self.lock:
            if self.stall_after_create and self.stalls > 0:
                self.stalls -= 1
                return self.stall_after_create
        return 0.0


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data body: name -> (filename, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


# -- Mastodon ------------------------------------------------------------------------------

_MASTODON_URL = regex.compile(r"https?://\S+")


def mastodon_count(text: str) -> int:
    """Mastodon's StatusLengthValidator: graphemes, every URL counting 23."""
    return len(regex.findall(r"\X", _MASTODON_URL.sub("x" * 23, text)))


class FakeMastodon(FakeServer):
    """POST /api/v1/statuses (with Idempotency-Key), POST /api/v2/media, instance info."""

    def __init__(self, token: str = "mastodon-token") -> None:
        super().__init__()
        self.token = token
        self.statuses: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}  # key -> status id
        self.stall_after_create = 0.0  # seconds to sleep after storing, for `stalls` creates
        self.stalls = 1
        self.max_characters = 500

    def handle(self, method, path, headers, body):
        route = urlsplit(path).path.rstrip("/")
        if route == "/api/v1/instance" and method == "GET":
            return 200, {}, {"uri": "127.0.0.1", "title": "Test", "version": "4.3.0"}, 0.0
        if route == "/api/v2/instance" and method == "GET":
            return (
                200,
                {},
                {
                    "domain": "127.0.0.1",
                    "title": "Test",
                    "version": "4.3.0",
                    "api_versions": {"mastodon": 2},
                    "configuration": {"statuses": {"max_characters": self.max_characters}},
                },
                0.0,
            )
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"error": "The access token is invalid"}, 0.0
        if route == "/api/v2/media" and method == "POST":
            fields = parse_multipart(headers["content-type"], body)
            if "file" not in fields:
                return 422, {}, {"error": "Validation failed: File can't be blank"}, 0.0
            media_id = str(100 + len(self.media))
            description = fields.get("description", (None, b""))[1].decode()
            self.media[media_id] = {
                "id": media_id,
                "description": description,
                "size": len(fields["file"][1]),
            }
            return (
                202,
                {},
                {"id": media_id, "type": "image", "url": None, "description": description},
                0.0,
            )
        if route == "/api/v1/statuses" and method == "POST":
            return self._create_status(headers, body)
        return 404, {}, {"error": "Record not found"}, 0.0

    def _create_status(self, headers, body):
        form = parse_qs(body.decode(), keep_blank_values=True)
        key = headers.get("idempotency-key")
        with self.lock:
            if key and key in self.idempotency:
                status = next(s for s in self.statuses if s["id"] == self.idempotency[key])
                return 200, {}, status, 0.0
            text = form.get("status", [""])[0]
            media_ids = form.get("media_ids[]", [])
            if not text and not media_ids:
                return 422, {}, {"error": "Validation failed: Text can't be blank"}, 0.0
            if mastodon_count(text) > self.max_characters:
                return (
                    422,
                    {},
                    {
                        "error": "Validation failed: Text character limit of "
                        f"{self.max_characters} exceeded"
                    },
                    0.0,
                )
            status_id = str(110000000000000000 + len(self.statuses))
            status = {
                "id": status_id,
                "uri": f"{self.url}/users/dispatch/statuses/{status_id}",
                "url": f"{self.url}/@dispatch/{status_id}",
                "created_at": "2026-03-12T10:00:00.000Z",
                "content": f"<p>{text}</p>",
                "text": text,
                "visibility": form.get("visibility", ["public"])[0],
                "language": form.get("language", [None])[0],
                "media_attachments": [self.media[m] for m in media_ids if m in self.media],
                "sensitive": False,
                "spoiler_text": "",
            }
            self.statuses.append(status)
            if key:
                self.idempotency[key] = status_id
        return 200, {}, status, self._stall()


# -- LinkedIn ------------------------------------------------------------------------------


class FakeLinkedIn(FakeServer):
    """Posts API (/rest/posts), Images API (initializeUpload + upload), OAuth token refresh."""

    def __init__(self, token: str = "li-token") -> None:
        super().__init__()
        self.tokens = {token}
        self.refresh_tokens = {"li-refresh"}
        self.posts: list[dict[str, Any]] = []
        self.images: dict[str, bytes | None] = {}
        self.stall_after_create = 0.0  # seconds to sleep after storing, for `stalls` creates
        self.stalls = 1
        self.seen_versions: list[str] = []

    def handle(self, method, path, headers, body):
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/oauth/v2/accessToken" and method == "POST":
            form = parse_qs(body.decode())
            if (
                form.get("grant_type") != ["refresh_token"]
                or form.get("refresh_token", [""])[0] not in self.refresh_tokens
            ):
                return (
                    400,
                    {},
                    {"error": "invalid_request", "error_description": "bad refresh token"},
                    0.0,
                )
            new = f"li-token-{len(self.tokens)}"
            self.tokens.add(new)
            return (
                200,
                {},
                {
                    "access_token": new,
                    "expires_in": 5184000,
                    "refresh_token": "li-refresh",
                    "refresh_token_expires_in": 31536000,
                },
                0.0,
            )
        auth = headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return (
                401,
                {},
                {"status": 401, "serviceErrorCode": 65600, "message": "Invalid access token"},
                0.0,
            )
        if parts.path.startswith("/upload/") and method == "PUT":
            urn = "urn:li:image:" + parts.path.rsplit("/", 1)[1]
            if urn not in self.images:
                return 404, {}, {"message": "unknown upload"}, 0.0
            self.images[urn] = body
            return 201, {}, None, 0.0
        if not parts.path.startswith("/rest/"):
            return 404, {}, {"message": "Not found"}, 0.0
        version = headers.get("linkedin-version", "")
        self.seen_versions.append(version)
        if not re.fullmatch(r"20\d{4}(\.\d{2})?", version):
            return (
                400,
                {},
                {
                    "status": 400,
                    "code": "VERSION_MISSING",
                    "message": "A version must be present. Please specify a version by "
                    "adding the LinkedIn-Version header.",
                },
                0.0,
            )
        if headers.get("x-restli-protocol-version") != "2.0.0":
            return (
                400,
                {},
                {"status": 400, "message": "X-Restli-Protocol-Version 2.0.0 is required"},
                0.0,
            )
        if parts.path == "/rest/images" and query.get("action") == ["initializeUpload"]:
            owner = json.loads(body)["initializeUploadRequest"]["owner"]
            n = str(900 + len(self.images))
            self.images[f"urn:li:image:{n}"] = None
            return (
                200,
                {},
                {
                    "value": {
                        "uploadUrlExpiresAt": int(time.time() * 1000) + 3600_000,
                        "uploadUrl": f"{self.url}/upload/{n}",
                        "image": f"urn:li:image:{n}",
                        "owner": owner,
                    }
                },
                0.0,
            )
        if parts.path == "/rest/posts" and method == "POST":
            return self._create_post(json.loads(body))
        if parts.path == "/rest/posts" and method == "GET" and query.get("q") == ["author"]:
            author = query.get("author", [""])[0]
            count = int(query.get("count", ["10"])[0])
            mine = [p for p in reversed(self.posts) if p["author"] == author][:count]
            return (
                200,
                {},
                {"elements": mine, "paging": {"start": 0, "count": count, "links": []}},
                0.0,
            )
        return 404, {}, {"message": "Not found"}, 0.0

    def _create_post(self, post: dict[str, Any]):
        for name in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if name not in post:
                return (
                    422,
                    {},
                    {
                        "status": 422,
                        "message": f"/{name} :: field is required but not found and has no "
                        "default value",
                    },
                    0.0,
                )
        if len(post["commentary"]) > 3000:
            return (
                422,
                {},
                {"status": 422, "message": "/commentary :: length of commentary exceeds 3000"},
                0.0,
            )
        thumb = ((post.get("content") or {}).get("article") or {}).get("thumbnail")
        if thumb and self.images.get(thumb) is None:
            return (
                422,
                {},
                {
                    "status": 422,
                    "message": f"/content/article/thumbnail :: {thumb} is not uploaded",
                },
                0.0,
            )
        with self.lock:
            urn = f"urn:li:share:{7000000000000000000 + len(self.posts)}"
            self.posts.append({**post, "id": urn})
        return 201, {"x-restli-id": urn}, None, self._stall()
