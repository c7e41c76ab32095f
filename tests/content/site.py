"""A tiny mutable website for polling tests: tests change what it serves between polls."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Site:
    port: int = 0
    pages: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    # Seconds a path waits before answering: a poll that is still running.
    delays: dict[str, float] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "application/rss+xml",
        status: int = 200,
        delay: float = 0.0,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = (status, data, content_type)
        self.delays[path] = delay


@contextmanager
def running_site() -> Iterator[Site]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            site.requests.append(self.path)
            status, body, content_type = site.pages.get(path, (404, b"not found", "text/plain"))
            if site.delays.get(path):
                time.sleep(site.delays[path])
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = httpd.server_address[1]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield site
    finally:
        httpd.shutdown()
        httpd.server_close()
