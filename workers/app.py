"""The Celery app, configured from settings on first use, never at import.

Embedded default: kombu's filesystem transport (no server). Production: Redis. The broker is
only a doorbell: which work is due lives in database rows with statuses and leases, swept by
beat, because neither embedded transport redelivers a task whose worker was killed.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue

from dispatch import doorbell
from dispatch.config import Settings, get_settings
from workers.doorbell import CeleryDoorbell

# Every periodic job, in code. Each is a cheap "claim what is due" query that fans out.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "heartbeat": {"task": "system.heartbeat", "schedule": 60.0},
    "content-poll-due": {"task": "content.poll_due", "schedule": 60.0},
    "delivery-tick": {"task": "delivery.tick", "schedule": 15.0},
    "delivery-bounces": {"task": "delivery.process_bounces", "schedule": 300.0},
    "audience-expire-pending": {"task": "audience.expire_pending", "schedule": 3600.0},
    "audience-sweep-mail": {"task": "audience.sweep_mail", "schedule": 300.0},
    "editions-alerts": {"task": "editions.alerts_tick", "schedule": 60.0},
    "editions-digests": {"task": "editions.digests_tick", "schedule": 300.0},
    "editions-events": {"task": "editions.events_tick", "schedule": 60.0},
    "social-consume-publications": {"task": "social.consume_publications", "schedule": 60.0},
    "social-publish-due": {"task": "social.publish_due", "schedule": 60.0},
    "staff-sweep-links": {"task": "staff.sweep_links", "schedule": 300.0},
}

#: The queue of everything else: edition batches, polls, ticks, social posts.
BULK_QUEUE = "dispatch"
#: Mail one person is waiting for right now. It has its own worker (`dispatch run`, compose),
#: because a bulk batch holds its worker for as long as its messages take at the relay's
#: rate (500 at 50/s is ten seconds; at a provider's 1/s, eight minutes): on one queue, a
#: confirmation waits behind every batch queued before it.
TRANSACTIONAL_QUEUE = "transactional"
TRANSACTIONAL_TASKS = (
    "audience.send_confirmation",
    "audience.send_preferences_link",
    "audience.send_welcome",
    "audience.handle_link_request",
    "staff.send_link",
)

TASK_MODULES = [
    "workers.tasks",
    "workers.content",
    "workers.audience",
    "workers.editions",
    "workers.delivery",
    "workers.social",
    "workers.staff",
]


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    url = settings.broker_url
    if url.startswith("filesystem"):
        folder = settings.broker_folder
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "polling_interval": 0.5,
        }
    if url.startswith("redis"):
        return {"visibility_timeout": settings.broker.visibility_timeout}
    # kombu's SQLAlchemy transport hands every option to create_engine(): give it none.
    return {}


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": broker_transport_options(settings),
        "broker_connection_retry_on_startup": True,
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_default_queue": BULK_QUEUE,
        # A worker started without --queues takes both (tests, a one-process install).
        # Each queue its own exchange and key: given only names, Celery binds both to the
        # default exchange with the default key, and every message then lands in both.
        "task_queues": (
            Queue(BULK_QUEUE, Exchange(BULK_QUEUE), routing_key=BULK_QUEUE),
            Queue(
                TRANSACTIONAL_QUEUE, Exchange(TRANSACTIONAL_QUEUE), routing_key=TRANSACTIONAL_QUEUE
            ),
        ),
        "task_routes": {name: {"queue": TRANSACTIONAL_QUEUE} for name in TRANSACTIONAL_TASKS},
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": BEAT_SCHEDULE,
        "beat_schedule_filename": str((settings.app.data_dir / "celerybeat-schedule").resolve()),
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_time_limit": 900,
        "task_soft_time_limit": 840,
        "include": TASK_MODULES,
    }


def create_celery(settings: Settings | None = None) -> Celery:
    """A Celery app for `settings`, or for the process's settings read when first needed."""
    app = Celery("dispatch", set_as_current=settings is None)
    if settings is None:
        app.add_defaults(lambda: celery_config(get_settings()))
    else:
        app.conf.update(celery_config(settings))
    return app


#: The process's app: tasks register on it; nothing is read until it is first used.
app = create_celery()
#: Its doorbell, installed by every process that rings: the command, the web app, workers.
bell = CeleryDoorbell(app)


def enqueue(name: str, *ids: int) -> None:
    """Ring for `name(*ids)`; tasks call it after their own transaction has committed."""
    bell.ring(name, *ids)


@signals.worker_init.connect
def _wire_doorbell(**_: Any) -> None:
    # Services running in a worker ring through the same broker (pool children inherit it).
    doorbell.install(bell)


#: How often a beat process records that it runs (`dispatch doctor` counts live beats).
BEAT_HEARTBEAT_SECONDS = 30.0


@signals.beat_init.connect
def _beat_heartbeat(**_: Any) -> None:
    """Beat itself says it is alive, under its own name: two live beats would double every
    tick, and `dispatch doctor` says so."""
    import logging
    import os
    import socket
    import threading

    from dispatch import health
    from dispatch.db import session_scope

    name = f"beat:{socket.gethostname()[:30]}/{os.getpid()}"

    def beat_forever() -> None:
        while True:
            try:
                with session_scope() as session:
                    health.beat(session, name)
            except Exception as error:  # the database may be down; the next beat tries again
                logging.getLogger(__name__).warning("beat heartbeat not recorded: %s", error)
            threading.Event().wait(BEAT_HEARTBEAT_SECONDS)

    threading.Thread(target=beat_forever, name="beat-heartbeat", daemon=True).start()
