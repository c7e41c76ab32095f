"""The doorbell rung through Celery: a task message by name, published on the broker."""

from __future__ import annotations

import logging

from celery import Celery

from dispatch.doorbell import Reachability

log = logging.getLogger(__name__)


class CeleryDoorbell:
    """Publishes `task(*ids)` by name; a broker that does not answer is logged, not raised."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def ring(self, task: str, *ids: int) -> None:
        try:
            self.app.send_task(task, args=ids)
        except Exception as error:  # kombu raises many kinds; the tick makes up for all of them
            log.warning("could not reach the task broker for %s%s: %s", task, ids, error)

    def check(self) -> Reachability:
        url = str(self.app.conf.broker_url or "")
        try:
            with self.app.connection_for_write(connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except Exception as error:  # any failure to connect means "unreachable"
            text = str(error).splitlines()[0] if str(error) else ""
            return Reachability(False, f"{type(error).__name__}: {text}"[:300])
        return Reachability(True, url.partition(":")[0])
