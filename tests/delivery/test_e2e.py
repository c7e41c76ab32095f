"""End to end: real worker processes, a real SMTP server process, crashes by kill -9.

PostgreSQL + Redis (production shape) and SQLite + the filesystem broker (embedded default).
Recovery after a crash comes from the delivery tick (the sweeper), run here in the test
process as beat would run it.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.delivery import bulk
from tests.delivery.live import CONCURRENCY, Send

pytestmark = pytest.mark.slow


def _start(send: Send) -> None:
    send.start()


def _crash_three_times(send: Send) -> int:
    """Kill -9 the worker three times at random moments; returns how many kills landed."""
    total = len(send.readers)
    kills = 0
    for fraction in sorted(random.uniform(0.1, 0.8) for _ in range(3)):
        target = int(total * fraction)

        def reached(target: int = target) -> bool:
            send.tick()
            return len(send.received()) >= target or send.status() == "sent"

        processes.wait_until(reached, timeout=90, what=f"{target} messages")
        if send.status() == "sent":
            break
        assert send.worker is not None
        processes.kill_hard(send.worker)
        kills += 1
        # Not marked sent early: messages were still unsent when the worker died.
        if len(send.received()) < total:
            assert send.status() == "sending"
        send.start_worker()
    return kills


def test_five_thousand_recipients_each_receive_it_once_on_postgres_and_redis(
    make_send: Any, postgres_url: str, redis_server: Any
) -> None:
    send = make_send(postgres_url, redis_server.url, 5000, batch_size=250)
    send.start_worker()
    _start(send)
    send.wait_sent()

    received = send.received()
    assert received == Counter(send.readers)
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 5000}


def test_kill_9_three_times_on_postgres_and_redis(
    make_send: Any, postgres_url: str, redis_server: Any
) -> None:
    send = make_send(postgres_url, redis_server.url, 3000, batch_size=150)
    send.start_worker()
    _start(send)
    kills = _crash_three_times(send)
    send.wait_sent()

    received = send.received()
    assert set(received) == set(send.readers)  # nobody lost
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= kills * CONCURRENCY  # at most one in flight per connection
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 3000}


def test_kill_9_three_times_on_the_embedded_default(make_send: Any, tmp_path: Path) -> None:
    send = make_send(bulk.sqlite_url(tmp_path), "", 1000, batch_size=50)
    send.start_worker()
    _start(send)
    kills = _crash_three_times(send)
    send.wait_sent()

    received = send.received()
    assert set(received) == set(send.readers)
    assert sum(n - 1 for n in received.values()) <= kills * CONCURRENCY
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 1000}
