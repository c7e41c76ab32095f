"""Fetching sources over real HTTP: conditional GET, redirects, limits and the SSRF guard."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import urllib3.util.connection

from dispatch.content.fetch import (
    FetchError,
    FetchPolicy,
    FetchTimeoutError,
    HTTPStatusError,
    RefusedURLError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    check_url,
    fetch,
)
from dispatch.content.rss import parse_feed
from tests.content.feed_server import (
    FeedServer,
    fixture_bytes,
    make_certificates,
    running_feed_server,
)

LOCAL = FetchPolicy(allow_private_hosts=True)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)


def test_a_feed_is_fetched_with_its_validators_and_parses(server: FeedServer) -> None:
    result = fetch(
        server.url("/fixtures/wordpress-rss2.xml"),
        policy=replace(LOCAL, user_agent="dispatch-test/1"),
    )

    assert result.status == 200
    assert result.body == fixture_bytes("wordpress-rss2.xml")
    assert result.etag
    assert result.last_modified
    assert (result.content_type or "").startswith("application/rss+xml")
    parsed = parse_feed(result.body, base_url=result.url, content_type=result.content_type)
    assert len(parsed.entries) == 3
    assert server.seen[-1][1]["User-Agent"] == "dispatch-test/1"


def test_a_known_etag_costs_a_304_and_no_body(server: FeedServer) -> None:
    first = fetch(server.url("/fixtures/wordpress-rss2.xml"), policy=LOCAL)
    again = fetch(server.url("/fixtures/wordpress-rss2.xml"), policy=LOCAL, etag=first.etag)

    assert again.status == 304
    assert again.not_modified
    assert again.body == b""
    assert again.etag == first.etag
    assert server.seen[-1][1]["If-None-Match"] == first.etag


def test_a_known_last_modified_costs_a_304(server: FeedServer) -> None:
    first = fetch(server.url("/fixtures/agenda.ics"), policy=LOCAL)
    again = fetch(
        server.url("/fixtures/agenda.ics"), policy=LOCAL, last_modified=first.last_modified
    )

    assert again.status == 304
    assert again.last_modified == first.last_modified


def test_five_redirects_are_followed(server: FeedServer) -> None:
    result = fetch(server.url("/redirect/5/wordpress-rss2.xml"), policy=LOCAL)

    assert result.status == 200
    assert result.url == server.url("/fixtures/wordpress-rss2.xml")
    assert len(result.redirects) == 5


def test_a_sixth_redirect_is_refused(server: FeedServer) -> None:
    with pytest.raises(TooManyRedirectsError, match="more than 5 redirects"):
        fetch(server.url("/redirect/6/wordpress-rss2.xml"), policy=LOCAL)

    assert not any(path.startswith("/fixtures/") for path in server.paths())


def test_a_server_error_is_reported_with_its_status(server: FeedServer) -> None:
    with pytest.raises(HTTPStatusError, match=r"HTTP 500 from http://127\.0\.0\.1") as caught:
        fetch(server.url("/error"), policy=LOCAL)

    assert caught.value.status == 500


@pytest.mark.timeout(15)
def test_a_slow_drip_body_is_cut_at_the_deadline(server: FeedServer) -> None:
    with pytest.raises(FetchTimeoutError, match=r"timed out after 1 s"):
        fetch(server.url("/slow"), policy=replace(LOCAL, timeout=1.0))


@pytest.mark.timeout(15)
def test_slow_drip_headers_are_cut_at_the_deadline(server: FeedServer) -> None:
    with pytest.raises(FetchTimeoutError, match=r"timed out after 1 s"):
        fetch(server.url("/slow-headers"), policy=replace(LOCAL, timeout=1.0))


def test_an_oversized_body_is_abandoned(server: FeedServer) -> None:
    with pytest.raises(ResponseTooLargeError, match="response larger than 5 MB"):
        fetch(server.url("/big?size=5200000"), policy=LOCAL)


def test_a_small_cap_is_reported_in_its_own_unit(server: FeedServer) -> None:
    with pytest.raises(ResponseTooLargeError, match="response larger than 10 kB"):
        fetch(server.url("/big?size=200000"), policy=replace(LOCAL, max_bytes=10_000))


def test_an_announced_oversized_body_is_refused_before_reading(server: FeedServer) -> None:
    with pytest.raises(ResponseTooLargeError):
        fetch(server.url("/big-declared?size=90000000"), policy=LOCAL)


def test_a_gzip_bomb_is_counted_after_decompression(server: FeedServer) -> None:
    with pytest.raises(ResponseTooLargeError):
        fetch(server.url("/gzip-bomb?size=20000000"), policy=replace(LOCAL, max_bytes=1_000_000))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/feed", "refused: 127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://10.0.0.1/feed", "refused: 10.0.0.1 is a private address"),
        ("http://[::1]/feed", "loopback"),
        ("http://[fd00:ec2::254]/", "a cloud metadata address"),
        ("http://100.100.100.200/", "a cloud metadata address"),
        ("http://[::ffff:10.0.0.1]/", "a private address"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://192.168.1.10/", "a private address"),
        ("http://169.254.10.10/", "link-local"),
    ],
)
def test_private_and_metadata_addresses_are_refused_without_connecting(
    url: str, message: str, no_connections: None
) -> None:
    with pytest.raises(RefusedURLError, match=message.replace(".", r"\.")):
        fetch(url)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://www.la27eregion.fr/feed", "gopher://x/", "/feed"]
)
def test_only_http_and_https_are_fetched(url: str, no_connections: None) -> None:
    with pytest.raises(RefusedURLError, match="only http and https"):
        fetch(url)


def test_a_hostname_resolving_to_a_private_address_is_refused(no_connections: None) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.1"]

    with pytest.raises(RefusedURLError, match=r"intranet\.example\.org \(10\.0\.0\.1\)"):
        fetch("https://intranet.example.org/feed", policy=FetchPolicy(resolver=resolver))


def test_an_unresolvable_host_is_a_clear_error(no_connections: None) -> None:
    with pytest.raises(FetchError, match="could not resolve"):
        fetch("http://nowhere.invalid/feed")


def test_public_addresses_pass_the_guard() -> None:
    assert check_url("https://93.184.215.14/feed") == ["93.184.215.14"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://127.0.0.1:{port}/fixtures/wordpress-rss2.xml", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://10.0.0.1/feed", "a private address"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_a_redirect_to_a_refused_target_is_refused(
    server: FeedServer, target: str, message: str
) -> None:
    """The first hop is a host staff allowed; the redirect it answers is checked again."""
    target = target.format(port=server.port)

    def resolver(host: str, port: int) -> list[str]:
        assert host == "blog.la27eregion.test"
        return ["127.0.0.1"]

    start = f"http://blog.la27eregion.test:{server.port}/redirect-to?url={target}"
    with pytest.raises(RefusedURLError, match=message):
        fetch(start, policy=FetchPolicy(allowed_hosts={"blog.la27eregion.test"}, resolver=resolver))

    assert server.paths() == [f"/redirect-to?url={target}"]


def test_the_connection_goes_to_the_address_that_was_checked(server: FeedServer) -> None:
    """The host is resolved once, checked, and connected to; the Host header is kept."""
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    result = fetch(
        f"http://feeds.la27eregion.test:{server.port}/echo-host",
        policy=FetchPolicy(allowed_hosts={"feeds.la27eregion.test"}, resolver=resolver),
    )

    assert result.body == f"feeds.la27eregion.test:{server.port}".encode()
    assert lookups == ["feeds.la27eregion.test"]


def test_allowed_hosts_never_open_the_metadata_address(no_connections: None) -> None:
    with pytest.raises(RefusedURLError, match="metadata"):
        fetch(
            "http://metadata.internal/",
            policy=FetchPolicy(
                allowed_hosts={"metadata.internal"}, resolver=lambda host, port: ["169.254.169.254"]
            ),
        )


TLS_HOST = "feeds.la27eregion.test"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FeedServer, Path]]:
    ca_file, context = make_certificates(tmp_path_factory.mktemp("tls"), TLS_HOST)
    with running_feed_server(tls=context) as server:
        yield server, ca_file


def test_https_to_the_checked_address_still_verifies_the_hostname(
    tls_server: tuple[FeedServer, Path],
) -> None:
    server, ca_file = tls_server

    result = fetch(
        f"https://{TLS_HOST}:{server.port}/fixtures/wordpress-rss2.xml",
        policy=FetchPolicy(
            allowed_hosts={TLS_HOST},
            resolver=lambda host, port: ["127.0.0.1"],
            ca_bundle=str(ca_file),
        ),
    )

    assert result.status == 200
    assert result.body == fixture_bytes("wordpress-rss2.xml")


def test_a_certificate_for_another_name_is_a_tls_error(
    tls_server: tuple[FeedServer, Path],
) -> None:
    server, ca_file = tls_server

    with pytest.raises(FetchError, match=r"TLS error with other\.la27eregion\.test"):
        fetch(
            f"https://other.la27eregion.test:{server.port}/fixtures/wordpress-rss2.xml",
            policy=FetchPolicy(
                allowed_hosts={"other.la27eregion.test"},
                resolver=lambda host, port: ["127.0.0.1"],
                ca_bundle=str(ca_file),
            ),
        )


def test_metadata_addresses_stay_refused_even_when_private_hosts_are_allowed() -> None:
    from dispatch.content.fetch import RefusedURLError, check_url

    with pytest.raises(RefusedURLError, match=r"169\.254\.169\.254"):
        check_url("http://169.254.169.254/latest/meta-data/", allow_private_hosts=True)
    assert check_url("http://10.0.0.1/feed/", allow_private_hosts=True) == ["10.0.0.1"]
