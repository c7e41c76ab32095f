"""Marks survive a crash of the database server itself (`pg_ctl stop -m immediate` mid-send).

Each outcome is committed synchronously before the next message leaves, so a crash repeats
at most the one message in flight on each open SMTP connection; leases granted by the
crashed server are taken back at the first tick after it restarts, not when they expire.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from dispatch.delivery.models import Delivery
from tests import servers
from tests.delivery import bulk
from tests.delivery.live import CONCURRENCY, MakeSend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crashable_postgres() -> Iterator[servers.Server]:
    """A server of this module's own: the tests crash it."""
    try:
        server = servers.start_postgres()
    except servers.ServerUnavailableError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.mark.parametrize("run", [1, 2])
def test_a_database_crash_mid_send_loses_nothing_and_repeats_at_most_one_per_connection(
    make_send: MakeSend, crashable_postgres: servers.Server, redis_server: servers.Server, run: int
) -> None:
    url = servers.create_database(crashable_postgres, f"crash_{run}")
    # Leases last longer than the test may wait: only the restart can free them in time.
    send = make_send(url, redis_server.url, 3000, batch_size=250, lease_seconds="600")
    send.start_worker()
    send.start()
    target = random.randint(600, 2200)
    send.wait_until(lambda: len(send.records()) >= target, timeout=90, what=f"{target} messages")

    servers.crash_postgres(crashable_postgres)
    at_crash = len(send.records())
    time.sleep(0.5)
    servers.restart_postgres(crashable_postgres)
    send.wait_sent(timeout=90)

    received = send.received()
    assert set(received) == set(send.readers), "nobody is lost"
    duplicates = sum(n - 1 for n in received.values())
    # One worker, CONCURRENCY pool processes, one SMTP connection open in each.
    assert duplicates <= CONCURRENCY, f"{duplicates} repeated after a crash at {at_crash}"
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": 3000}
    # Every message the server took is the row's own: the Message-ID each row recorded.
    with send.sessions() as session:
        recorded = set(
            session.scalars(
                select(Delivery.message_id).where(Delivery.edition_id == send.edition_id)
            )
        )
    assert Counter(r["message_id"] for r in send.records()).keys() == recorded
