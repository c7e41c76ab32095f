"""The send rate shared by every worker: messages per second and per hour.

Fixed windows counted where all workers see them: Redis when the broker is Redis, otherwise
the database (`dispatch.ratelimit.RateCounter`, embedded mode). Workers take tokens a few at
a time, so the counter is touched a handful of times per second, not once per message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.ratelimit import RateCounter

SECOND_KEY = "send:second"
HOUR_KEY = "send:hour"


class HourlyLimitReached(Exception):  # noqa: N818 - reads as a state, like StopIteration
    """The hourly quota is used up; sending may resume at `resume_at`."""

    def __init__(self, resume_at: datetime) -> None:
        super().__init__(f"hourly sending limit reached; resuming at {resume_at:%H:%M} UTC")
        self.resume_at = resume_at


class Throttle(Protocol):
    def acquire(self, wanted: int) -> int:
        """Block until at least one message may go; return how many may (1..wanted).

        Raises `HourlyLimitReached` instead of blocking for the rest of an hour.
        """
        ...


def chunk_size(per_second: float) -> int:
    """Tokens taken at a time: a tenth of a second's worth, between 1 and 100."""
    return max(1, min(100, int(per_second / 10)))


class _WindowThrottle:
    """The algorithm shared by both stores; subclasses provide an atomic `_add`."""

    def __init__(
        self,
        per_second: float,
        per_hour: int,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_second = max(1, int(per_second))
        self.per_hour = per_hour
        self.sleep = sleep
        self.clock = clock

    def _add(self, key: str, window: int, amount: int) -> int:
        """Add `amount` to the window's counter and return the new value."""
        raise NotImplementedError

    def acquire(self, wanted: int) -> int:
        wanted = max(1, min(wanted, self.per_second))
        while True:
            now = self.clock()
            second, hour = int(now), int(now) // 3600 * 3600
            used_hour = self._add(HOUR_KEY, hour, wanted)
            granted_hour = min(wanted, self.per_hour - (used_hour - wanted))
            if granted_hour <= 0:
                self._add(HOUR_KEY, hour, -wanted)
                raise HourlyLimitReached(datetime.fromtimestamp(hour + 3600, UTC))
            used = self._add(SECOND_KEY, second, granted_hour)
            granted = min(granted_hour, self.per_second - (used - granted_hour))
            excess_second = granted_hour - max(granted, 0)
            if excess_second:
                self._add(SECOND_KEY, second, -excess_second)
            returned = wanted - max(granted, 0)
            if returned:
                self._add(HOUR_KEY, hour, -returned)
            if granted > 0:
                return granted
            self.sleep(max(0.001, second + 1 - self.clock()))


class RedisThrottle(_WindowThrottle):
    """Counters in Redis (INCRBY on a key per window, expiring with it)."""

    def __init__(self, url: str, per_second: float, per_hour: int, **kwargs: Any) -> None:
        import redis

        super().__init__(per_second, per_hour, **kwargs)
        self.redis = redis.Redis.from_url(url)

    def _add(self, key: str, window: int, amount: int) -> int:
        name = f"dispatch:{key}:{window}"
        pipe = self.redis.pipeline()
        pipe.incrby(name, amount)
        pipe.expire(name, 3700 if key == HOUR_KEY else 5)
        value, _ = pipe.execute()
        return int(value)


class DatabaseThrottle(_WindowThrottle):
    """Counters in the `rate_counters` table, each update in its own short transaction."""

    def __init__(
        self, sessions: sessionmaker[Session], per_second: float, per_hour: int, **kwargs: Any
    ) -> None:
        super().__init__(per_second, per_hour, **kwargs)
        self.sessions = sessions

    def _add(self, key: str, window: int, amount: int) -> int:
        start = datetime.fromtimestamp(window, UTC)
        condition = (RateCounter.key == key, RateCounter.window_start == start)
        with self.sessions() as session, session.begin():
            value = session.execute(
                update(RateCounter)
                .where(*condition)
                .values(count=RateCounter.count + amount)
                .returning(RateCounter.count)
            ).scalar_one_or_none()
            if value is not None:
                return int(value)
            try:
                with session.begin_nested():
                    session.add(RateCounter(key=key, window_start=start, count=amount))
                return amount
            except IntegrityError:
                session.execute(
                    update(RateCounter).where(*condition).values(count=RateCounter.count + amount)
                )
                return int(session.scalar(select(RateCounter.count).where(*condition)) or 0)


def for_settings(settings: Settings, sessions: sessionmaker[Session]) -> Throttle:
    """Redis when the broker is Redis, the database otherwise."""
    mail = settings.mail
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisThrottle(settings.broker_url, mail.rate_per_second, mail.rate_per_hour)
    return DatabaseThrottle(sessions, mail.rate_per_second, mail.rate_per_hour)
