"""A task published by one process is run by a real `celery worker` process and writes a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dispatch import migrate
from dispatch.config import AppSettings, BrokerSettings, DatabaseSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.health import Heartbeat
from tests import processes
from tests.servers import Server
from workers.app import create_celery

pytestmark = pytest.mark.slow


def _roundtrip(tmp_path: Path, database_url: str, broker_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    settings = build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        database=DatabaseSettings(url=database_url),
        broker=BrokerSettings(url=broker_url),
    )
    env = processes.dispatch_env(
        data_dir=tmp_path / "var", database_url=database_url, broker_url=broker_url
    )
    worker = processes.start_worker(env, tmp_path / "worker.log")
    try:
        marker = f"roundtrip-{tmp_path.name}"[:50]
        create_celery(settings).send_task("system.heartbeat", args=[marker])
        sessions = make_sessionmaker(engine)

        def row_written() -> bool:
            with sessions() as session:
                return session.scalar(select(Heartbeat).where(Heartbeat.name == marker)) is not None

        processes.wait_until(row_written, timeout=60, what="the worker to write its row")
    except TimeoutError as error:
        log = (tmp_path / "worker.log").read_text(errors="replace")
        raise AssertionError(f"{error}\n--- worker.log\n{log}") from error
    finally:
        processes.stop(worker)
        engine.dispose()


def test_roundtrip_on_the_embedded_default(tmp_path: Path) -> None:
    # SQLite + kombu's filesystem transport: no server at all.
    _roundtrip(tmp_path, f"sqlite:///{tmp_path / 'dispatch.sqlite3'}", "")


def test_roundtrip_on_redis_and_postgres(
    tmp_path: Path, redis_server: Server, postgres_url: str
) -> None:
    _roundtrip(tmp_path, postgres_url, redis_server.url)
