"""GET /healthz tells load balancers whether the database and broker answer; the detailed
report (`dispatch.web.health.report`) is what staff see."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dispatch.config import AppSettings, BrokerSettings, Settings, build_settings
from dispatch.web import health
from dispatch.web.app import create_app
from workers.app import create_celery
from workers.doorbell import CeleryDoorbell


def _bell(settings: Settings) -> CeleryDoorbell:
    """The doorbell the web process rings: Celery on the settings' own broker."""
    return CeleryDoorbell(create_celery(settings))


def test_healthy_when_database_and_broker_answer(settings: Settings, db_engine: Engine) -> None:
    app = create_app(settings, engine=db_engine, doorbell=_bell(settings))
    response = TestClient(app).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    details = health.report(app).details
    assert details["database"]["ok"] is True
    assert details["broker"] == {"ok": True, "transport": "filesystem"}


def test_503_when_the_broker_is_down(tmp_path, db_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import free_port

    settings = build_settings(
        app=AppSettings(data_dir=tmp_path),
        broker=BrokerSettings(url=f"redis://127.0.0.1:{free_port()}/0"),
    )
    app = create_app(settings, engine=db_engine, doorbell=_bell(settings))
    response = TestClient(app).get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    details = health.report(app).details
    assert details["broker"]["ok"] is False
    assert details["database"]["ok"] is True


def test_503_when_the_database_is_down(settings: Settings) -> None:
    from dispatch.db import make_engine
    from tests.servers import free_port

    dead = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    app = create_app(settings, engine=dead, doorbell=_bell(settings))
    response = TestClient(app).get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert health.report(app).details["database"]["ok"] is False


def test_healthy_on_redis(tmp_path, db_engine: Engine, redis_server) -> None:  # type: ignore[no-untyped-def]
    settings = build_settings(
        app=AppSettings(data_dir=tmp_path), broker=BrokerSettings(url=redis_server.url)
    )
    app = create_app(settings, engine=db_engine, doorbell=_bell(settings))
    assert TestClient(app).get("/healthz").status_code == 200
    assert health.report(app).details["broker"]["transport"] == "redis"


def test_home_page_speaks_french(settings: Settings, db_engine: Engine) -> None:
    response = TestClient(create_app(settings, engine=db_engine, doorbell=_bell(settings))).get("/")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
