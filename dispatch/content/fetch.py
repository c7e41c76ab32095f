"""Fetching a source's URL safely: conditional GET, size cap, deadline, SSRF guard.

Every hop of a redirect chain is resolved, checked and then connected to at the very address
that was checked, so a hostname cannot resolve to a public address for the check and to a
private one for the connection.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from dispatch.config import ContentSettings

DEFAULT_USER_AGENT = "dispatch/0.1 (newsletter and feed reader)"
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)


class FetchError(Exception):
    """A fetch that did not give a usable response; the message is for staff."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url


class RefusedURLError(FetchError):
    """The URL or an address it resolves to is not one dispatch will connect to."""


class ResponseTooLargeError(FetchError):
    """The body went past the size cap."""


class FetchTimeoutError(FetchError):
    """The server did not answer completely before the deadline."""


class TooManyRedirectsError(FetchError):
    """The redirect chain was longer than `MAX_REDIRECTS`."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, url: str | None = None, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


@dataclass(frozen=True)
class FetchResult:
    """A response: 200 (or another 2xx) with its body, or 304 with an empty body."""

    status: int
    body: bytes
    url: str
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    redirects: tuple[str, ...] = ()

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class FetchPolicy:
    """How far one fetch may go: its deadline, its size, the hosts it may reach.

    `timeout` is both the connect/read timeout and the deadline for the whole fetch,
    redirects included. `allowed_hosts` names hosts (exact, lower-case) that may resolve to
    private addresses even when `allow_private_hosts` is off, such as a site on the same
    private network; cloud metadata addresses stay refused for them. `resolver` replaces the
    system's DNS lookup (host, port) -> addresses. `ca_bundle` is a PEM file of the
    certificate authorities to trust instead of the usual ones (a private CA).
    """

    timeout: float = 10.0
    max_bytes: int = 5_000_000
    allow_private_hosts: bool = False
    allowed_hosts: Collection[str] = ()
    user_agent: str = DEFAULT_USER_AGENT
    resolver: Resolver | None = None
    ca_bundle: str | None = None

    @classmethod
    def from_settings(cls, content: ContentSettings, **overrides: Any) -> FetchPolicy:
        """The policy `[content]` settings describe, every fetch of dispatch's alike."""
        return cls(
            timeout=content.fetch_timeout,
            max_bytes=content.max_bytes,
            allow_private_hosts=content.allow_private_hosts,
            user_agent=content.user_agent,
            **overrides,
        )


DEFAULT_POLICY = FetchPolicy()


def fetch(
    url: str,
    *,
    policy: FetchPolicy = DEFAULT_POLICY,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET `url` within `policy` and return its body, or raise a `FetchError` saying why not.

    `etag` and `last_modified` make it a conditional GET (a 304 costs nothing).
    """
    timeout = policy.timeout
    max_bytes = policy.max_bytes
    allow_private_hosts = policy.allow_private_hosts
    ca_bundle = policy.ca_bundle
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": policy.user_agent, "Accept": "*/*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    allowed = {host.lower().rstrip(".") for host in policy.allowed_hosts}
    resolve = policy.resolver or _system_resolve

    current = url
    visited: list[str] = []
    while True:
        hop = _Hop(current, allow_private_hosts=allow_private_hosts, allowed_hosts=allowed)
        addresses = hop.check(resolve)
        response, watchdog = _request(
            hop, addresses, headers, timeout=timeout, deadline=deadline, ca_bundle=ca_bundle
        )
        try:
            if response.status_code in _REDIRECT_STATUSES and "Location" in response.headers:
                visited.append(current)
                if len(visited) > MAX_REDIRECTS:
                    raise TooManyRedirectsError(
                        f"more than {MAX_REDIRECTS} redirects from {url}", url=current
                    )
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status_code == 304:
                return _result(
                    response, current, b"", visited=visited, etag=etag, last_modified=last_modified
                )
            if not 200 <= response.status_code < 300:
                raise HTTPStatusError(
                    f"HTTP {response.status_code} from {current}",
                    url=current,
                    status=response.status_code,
                )
            body = _read_body(
                response, current, watchdog, max_bytes=max_bytes, deadline=deadline, timeout=timeout
            )
            return _result(response, current, body, visited=visited, etag=None, last_modified=None)
        finally:
            watchdog.cancel()
            response.close()


def check_url(
    url: str,
    *,
    allow_private_hosts: bool = False,
    allowed_hosts: Collection[str] = (),
    resolver: Resolver | None = None,
) -> list[str]:
    """The addresses `url` may be fetched from, or `RefusedURLError` saying why it may not."""
    hop = _Hop(
        url,
        allow_private_hosts=allow_private_hosts,
        allowed_hosts={host.lower().rstrip(".") for host in allowed_hosts},
    )
    return hop.check(resolver or _system_resolve)


def refusal_reason(address: IPAddress) -> str | None:
    """Why dispatch will not connect to `address`, or None if it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal_reason(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    for refused, reason in checks:
        if refused:
            return reason
    return None


class _Hop:
    """One URL of a redirect chain, checked before anything is sent to it."""

    def __init__(self, url: str, *, allow_private_hosts: bool, allowed_hosts: set[str]) -> None:
        self.url = url
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        if self.scheme not in {"http", "https"}:
            shown = self.scheme or "none"
            raise RefusedURLError(
                f"refused: only http and https URLs are fetched (got {shown}: {url})", url=url
            )
        try:
            host, port = parts.hostname, parts.port
        except ValueError as error:
            raise RefusedURLError(f"refused: {url} is not a valid URL ({error})", url=url) from None
        if not host:
            raise RefusedURLError(f"refused: {url} has no host", url=url)
        self.host = host.rstrip(".")
        self.port = port or (443 if self.scheme == "https" else 80)
        self.host_header = parts.netloc.rpartition("@")[2]
        self.allow_private_hosts = allow_private_hosts
        self.allowed_host = self.host in allowed_hosts

    def check(self, resolve: Resolver) -> list[str]:
        """Resolve the host; every address it resolves to must be acceptable."""
        addresses = _literal(self.host) or resolve(self.host, self.port)
        if not addresses:
            raise FetchError(f"could not resolve {self.host}", url=self.url)
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            # Cloud metadata endpoints hand out credentials: never, whatever the settings say.
            if self.allow_private_hosts and address not in METADATA_ADDRESSES:
                continue
            reason = refusal_reason(address)
            if reason is None or (self.allowed_host and address not in METADATA_ADDRESSES):
                continue
            shown = address if str(address) == self.host else f"{self.host} ({address})"
            raise RefusedURLError(f"refused: {shown} is {reason}", url=self.url)
        return addresses


def _literal(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return []


def _system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"could not resolve {host} ({error})") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


def _request(
    hop: _Hop,
    addresses: list[str],
    headers: dict[str, str],
    *,
    timeout: float,
    deadline: float,
    ca_bundle: str | None,
) -> tuple[requests.Response, _Watchdog]:
    """Send the GET to the first address that accepts a connection."""
    last_error: Exception | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        watchdog = _Watchdog(remaining)
        session = requests.Session()
        # Proxies from the environment would connect somewhere we did not check.
        session.trust_env = False
        adapter = _PinnedAdapter(address, hop.host, watchdog)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = session.get(
                hop.url,
                headers={**headers, "Host": hop.host_header},
                allow_redirects=False,
                stream=True,
                timeout=(min(timeout, remaining), min(timeout, remaining)),
                verify=ca_bundle or True,
            )
        except requests.exceptions.SSLError as error:
            raise FetchError(f"TLS error with {hop.host}: {_reason(error)}", url=hop.url) from None
        except requests.ConnectionError as error:
            if watchdog.fired:
                raise _timed_out(timeout, hop.url) from None
            last_error = error
            continue
        except requests.Timeout:
            raise _timed_out(timeout, hop.url) from None
        except requests.RequestException as error:
            raise FetchError(f"could not fetch {hop.url}: {_reason(error)}", url=hop.url) from None
        finally:
            session.close()
        if watchdog.fired:
            # Headers cut short by the watchdog can look complete to http.client.
            response.close()
            raise _timed_out(timeout, hop.url)
        return response, watchdog
    if last_error is None:
        raise _timed_out(timeout, hop.url)
    raise FetchError(f"could not connect to {hop.host}: {_reason(last_error)}", url=hop.url)


def _read_body(
    response: requests.Response,
    url: str,
    watchdog: _Watchdog,
    *,
    max_bytes: int,
    deadline: float,
    timeout: float,
) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLargeError(f"response larger than {_size(max_bytes)} from {url}", url=url)
    body = bytearray()
    try:
        # Counted after decompression, so a small gzip bomb is stopped as well.
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise ResponseTooLargeError(
                    f"response larger than {_size(max_bytes)} from {url}", url=url
                )
            if time.monotonic() > deadline:
                raise _timed_out(timeout, url)
    except requests.RequestException as error:
        if watchdog.fired or time.monotonic() > deadline:
            raise _timed_out(timeout, url) from None
        message = f"could not read the response from {url}: {_reason(error)}"
        raise FetchError(message, url=url) from None
    if watchdog.fired:
        # A body without a length ends at EOF, and so does one the watchdog cut.
        raise _timed_out(timeout, url)
    return bytes(body)


def _result(
    response: requests.Response,
    url: str,
    body: bytes,
    *,
    visited: list[str],
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    return FetchResult(
        status=response.status_code,
        body=body,
        url=url,
        # A 304 may omit the validators; the ones sent are still the right ones.
        etag=response.headers.get("ETag") or etag,
        last_modified=response.headers.get("Last-Modified") or last_modified,
        content_type=response.headers.get("Content-Type"),
        redirects=tuple(visited),
    )


class _Watchdog:
    """Shuts the fetch's sockets down at the deadline, however slowly the server drips."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.fired:
                return
        _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # Already closed means nothing is left to interrupt.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _PinnedAdapter(HTTPAdapter):
    """Connects to one checked address, whatever the URL's host resolves to by then."""

    def __init__(self, address: str, hostname: str, watchdog: _Watchdog) -> None:
        self._address = address
        self._hostname = hostname
        self._watchdog = watchdog
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        watch = self._watchdog.watch

        class WatchedHTTPConnection(HTTPConnection):
            def _new_conn(self) -> socket.socket:
                sock = super()._new_conn()
                watch(sock)
                return sock

        class WatchedHTTPSConnection(HTTPSConnection):
            def _new_conn(self) -> socket.socket:
                sock = super()._new_conn()
                watch(sock)
                return sock

        class WatchedHTTPPool(HTTPConnectionPool):
            ConnectionCls = WatchedHTTPConnection

        class WatchedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = WatchedHTTPSConnection

        self.poolmanager.pool_classes_by_scheme = {
            "http": WatchedHTTPPool,
            "https": WatchedHTTPSPool,
        }

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        attributes = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params: dict[str, Any] = dict(attributes[0])
        pool_kwargs: dict[str, Any] = dict(attributes[1])
        host_params["host"] = self._address
        if host_params["scheme"] == "https":
            # TLS still speaks to, and verifies the certificate of, the name in the URL.
            pool_kwargs["server_hostname"] = self._hostname
            pool_kwargs["assert_hostname"] = self._hostname
        return host_params, pool_kwargs


def _timed_out(timeout: float, url: str) -> FetchTimeoutError:
    return FetchTimeoutError(f"timed out after {timeout:g} s fetching {url}", url=url)


def _size(limit: int) -> str:
    if limit >= 1_000_000:
        return f"{limit / 1_000_000:g} MB"
    if limit >= 1_000:
        return f"{limit / 1_000:g} kB"
    return f"{limit} bytes"


def _reason(error: Exception) -> str:
    """The innermost useful words of a requests/urllib3 error."""
    text = str(error)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text.strip("()'\" ")[:200]
