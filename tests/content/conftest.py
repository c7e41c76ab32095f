"""Fixtures for content tests: a real local HTTP server for the fetching and parsing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.content.feed_server import FeedServer, running_feed_server


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    with running_feed_server() as server:
        yield server


@pytest.fixture
def server(feed_server: FeedServer) -> FeedServer:
    """The shared server, with a fresh record of what it was asked."""
    feed_server.seen.clear()
    return feed_server
