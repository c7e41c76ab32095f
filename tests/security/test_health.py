"""The public health check says ok or degraded, and nothing about the inside."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dispatch.config import AppSettings, BrokerSettings, build_settings
from dispatch.db import make_engine
from dispatch.web import health
from dispatch.web.app import create_app
from tests.servers import free_port
from workers.app import create_celery
from workers.doorbell import CeleryDoorbell


def test_a_broker_down_is_degraded_without_naming_host_or_port(
    tmp_path: Path, web_engine: Engine
) -> None:
    port = free_port()
    settings = build_settings(
        app=AppSettings(data_dir=tmp_path),
        broker=BrokerSettings(url=f"redis://127.0.0.1:{port}/0"),
    )
    app = create_app(settings, engine=web_engine, doorbell=CeleryDoorbell(create_celery(settings)))

    response = TestClient(app).get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert str(port) not in response.text and "127.0.0.1" not in response.text
    # Staff get the details from the same checks.
    assert health.report(app).details["broker"]["ok"] is False


def test_a_database_down_is_degraded_without_naming_host_or_port(tmp_path: Path) -> None:
    port = free_port()
    settings = build_settings(app=AppSettings(data_dir=tmp_path))
    dead = make_engine(f"postgresql+psycopg://dispatch@db.internal.example:{port}/dispatch")
    app = create_app(settings, engine=dead, doorbell=CeleryDoorbell(create_celery(settings)))

    response = TestClient(app).get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert "db.internal" not in response.text and str(port) not in response.text
