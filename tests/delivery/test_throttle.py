"""The shared send rate: never more per second or per hour than allowed, across workers."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dispatch.delivery.throttle import DatabaseThrottle, HourlyLimitReached, RedisThrottle
from tests.delivery import bulk


class FakeClock:
    """Time that moves only when the throttle sleeps."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    db_engine, factory = bulk.migrated(bulk.sqlite_url(tmp_path))
    yield factory
    db_engine.dispose()


def _throttles(
    kind: str, request: pytest.FixtureRequest, clock: FakeClock, **limits: Any
) -> list[Any]:
    """Two throttles sharing one store, as two workers would."""
    options = {"sleep": clock.sleep, "clock": clock.time, **limits}
    if kind == "redis":
        url = request.getfixturevalue("redis_server").url
        # Redis outlives the test: each test counts in hours of its own.
        clock.now += zlib.crc32(request.node.name.encode()) % 100_000 * 3600
        return [RedisThrottle(url, **options), RedisThrottle(url, **options)]
    sessions = request.getfixturevalue("sessions")
    return [DatabaseThrottle(sessions, **options), DatabaseThrottle(sessions, **options)]


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_two_workers_together_stay_within_the_rate_per_second(
    kind: str, request: pytest.FixtureRequest
) -> None:
    clock = FakeClock()
    workers = _throttles(kind, request, clock, per_second=10, per_hour=100_000)
    sent_at: list[int] = []
    for turn in range(30):
        granted = workers[turn % 2].acquire(4)
        assert 1 <= granted <= 4
        sent_at += [int(clock.now)] * granted
    per_second: dict[int, int] = {}
    for second in sent_at:
        per_second[second] = per_second.get(second, 0) + 1
    assert max(per_second.values()) <= 10
    assert len(per_second) >= len(sent_at) // 10


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_the_hourly_limit_stops_sending_until_the_next_hour(
    kind: str, request: pytest.FixtureRequest
) -> None:
    clock = FakeClock()
    first, second = _throttles(kind, request, clock, per_second=100, per_hour=25)
    total = first.acquire(20) + second.acquire(20)
    assert total == 25
    with pytest.raises(HourlyLimitReached) as stopped:
        first.acquire(1)
    assert stopped.value.resume_at.timestamp() > clock.now
    assert stopped.value.resume_at.timestamp() - clock.now <= 3600
