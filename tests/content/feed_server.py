"""A real HTTP server on 127.0.0.1 serving the content fixtures, with misbehaving routes."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
LAST_MODIFIED = formatdate(1721203960, usegmt=True)  # 17 July 2024, 08:12:40 GMT
DRIP_LIMIT = 20.0  # seconds a dripping route keeps going if nobody hangs up


@dataclass
class FeedServer:
    """Where the server listens and what it was asked."""

    host: str
    port: int
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def paths(self) -> list[str]:
        return [path for path, _headers in self.seen]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server_version = "FixtureServer/1.0"
    feed_server: FeedServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test output stays readable

    def do_GET(self) -> None:
        self.feed_server.seen.append((self.path, dict(self.headers.items())))
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        segments = [segment for segment in parts.path.split("/") if segment]
        route = segments[0] if segments else ""
        try:
            handler = getattr(self, f"_route_{route.replace('-', '_')}")
        except AttributeError:
            self._send(404, b"not found", "text/plain")
            return
        # The client hanging up mid-answer is what several tests want.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler(segments[1:], query)

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _route_fixtures(self, segments: list[str], query: dict[str, str]) -> None:
        path = FIXTURES / "/".join(segments)
        if not path.is_file() or FIXTURES not in path.resolve().parents:
            self._send(404, b"not found", "text/plain")
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag or self._not_modified_since():
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        content_type = {
            ".xml": "application/rss+xml; charset=utf-8",
            ".json": "application/json; charset=UTF-8",
            ".ics": "text/calendar; charset=utf-8",
        }.get(path.suffix, "application/octet-stream")
        self._send(200, body, content_type, ETag=etag, Last_Modified=LAST_MODIFIED)

    def _not_modified_since(self) -> bool:
        since = self.headers.get("If-Modified-Since")
        if not since or self.headers.get("If-None-Match"):
            return False
        return parsedate_to_datetime(since) >= parsedate_to_datetime(LAST_MODIFIED)

    def _route_redirect(self, segments: list[str], query: dict[str, str]) -> None:
        """/redirect/N/<fixture>: N redirects, then the fixture."""
        count, rest = int(segments[0]), "/".join(segments[1:])
        target = f"/redirect/{count - 1}/{rest}" if count > 1 else f"/fixtures/{rest}"
        self._send(302, b"", "text/plain", Location=target)

    def _route_redirect_to(self, segments: list[str], query: dict[str, str]) -> None:
        self._send(302, b"", "text/plain", Location=query["url"])

    def _route_slow(self, segments: list[str], query: dict[str, str]) -> None:
        """A body that never ends: one byte every 50 ms."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self._drip(b"<rss>" + b" " * 10_000)

    def _route_slow_headers(self, segments: list[str], query: dict[str, str]) -> None:
        """Headers that never end."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self._drip(b"X-Drip: " + b"a" * 10_000)

    def _drip(self, data: bytes) -> None:
        stop = time.monotonic() + DRIP_LIMIT
        for byte in data:
            if time.monotonic() > stop:
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.05)

    def _route_big(self, segments: list[str], query: dict[str, str]) -> None:
        """?size=N bytes, without a Content-Length: the cap must count what arrives."""
        size = int(query["size"])
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        while sent < size:
            piece = chunk[: size - sent]
            self.wfile.write(piece)
            sent += len(piece)

    def _route_big_declared(self, segments: list[str], query: dict[str, str]) -> None:
        """Announces ?size=N in Content-Length, then sends a few bytes and waits."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", query["size"])
        self.end_headers()
        self.wfile.write(b"<rss>")

    def _route_gzip_bomb(self, segments: list[str], query: dict[str, str]) -> None:
        body = gzip.compress(b"\0" * int(query["size"]))
        self._send(200, body, "application/rss+xml", Content_Encoding="gzip")

    def _route_error(self, segments: list[str], query: dict[str, str]) -> None:
        self._send(500, b"<h1>Internal Server Error</h1>", "text/html")

    def _route_echo_host(self, segments: list[str], query: dict[str, str]) -> None:
        self._send(200, (self.headers.get("Host") or "").encode(), "text/plain")


@contextmanager
def running_feed_server(tls: ssl.SSLContext | None = None) -> Iterator[FeedServer]:
    """Serve on a free port of 127.0.0.1 until the block ends (HTTPS if given a context)."""
    state = FeedServer(host="127.0.0.1", port=0)
    handler = type("Handler", (_Handler,), {"feed_server": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="feed-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def make_certificates(folder: Path, hostname: str) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA (returned as a PEM path) and a server context with a cert for hostname."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
