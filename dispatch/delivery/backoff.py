"""Waiting before reconnecting: exponential back-off with jitter after failed connections.

A mail server that refuses connections (421 at the greeting, a TLS or login failure, nothing
listening) must not be hammered: each worker process waits before its next attempt, twice as
long after each further failure, up to a maximum, each wait drawn at random in its upper half
so that workers that failed together do not come back together. The state lives in the
process, one per relay, so that the next batch of the same worker waits too; a connection
that opens resets it.
"""

from __future__ import annotations

import random
import threading
import time

from dispatch.config import Settings

_RANDOM = random.SystemRandom()  # unaffected by fork: pool processes draw their own


class Reconnect:
    """The back-off of one worker towards one relay."""

    def __init__(self, base: float, maximum: float) -> None:
        self.base = base
        self.maximum = max(base, maximum)
        self.failures = 0
        self._not_before = 0.0
        self._lock = threading.Lock()

    def failed(self) -> float:
        """Record a failed connection; returns the seconds to wait before the next attempt."""
        with self._lock:
            self.failures += 1
            ceiling = min(self.maximum, self.base * 2 ** (self.failures - 1))
            delay = ceiling / 2 + _RANDOM.uniform(0, ceiling / 2)
            self._not_before = time.monotonic() + delay
            return delay

    def succeeded(self) -> None:
        with self._lock:
            self.failures = 0
            self._not_before = 0.0

    def remaining(self) -> float:
        """Seconds still to wait before connecting again (0: go)."""
        return max(0.0, self._not_before - time.monotonic())


_WORKER: dict[tuple[str, int, float, float], Reconnect] = {}
_WORKER_LOCK = threading.Lock()


def for_relay(settings: Settings) -> Reconnect:
    """This process's back-off towards the configured relay."""
    mail = settings.mail
    key = (
        mail.smtp_host,
        mail.smtp_port,
        mail.reconnect_delay_seconds,
        mail.reconnect_delay_max_seconds,
    )
    with _WORKER_LOCK:
        found = _WORKER.get(key)
        if found is None:
            found = _WORKER[key] = Reconnect(*key[2:])
        return found
