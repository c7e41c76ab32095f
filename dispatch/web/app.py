"""The FastAPI app factory: settings and collaborators in, routes out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from dispatch import doorbell as doorbells
from dispatch import health
from dispatch.config import Settings, get_settings
from dispatch.db import make_engine, make_sessionmaker

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    doorbell: doorbells.Doorbell | None = None,
) -> FastAPI:
    """The web app; `doorbell` rings the workers (default: the process's installed one)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    app = FastAPI(title="dispatch", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.doorbell = doorbell if doorbell is not None else doorbells.installed()
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    from dispatch.web import admin, archive, events, hooks, subscribe, subscription

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(subscribe.router)
    app.include_router(subscription.router)
    app.include_router(hooks.router)
    app.include_router(admin.router)
    app.include_router(archive.router)
    app.include_router(events.router)
    if settings.app.mode == "embedded":
        from dispatch.web import demo

        app.include_router(demo.router)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        database = health.check_database(engine)
        reach = app.state.doorbell.check()
        broker: dict[str, Any] = (
            {"ok": True, "transport": reach.detail}
            if reach.ok
            else {"ok": False, "error": reach.detail}
        )
        body: dict[str, Any] = {"database": database, "broker": broker}
        if database["ok"]:
            with app.state.sessions() as session:
                body["heartbeats"] = {
                    name: at.isoformat() for name, at in health.last_beats(session).items()
                }
        ok = database["ok"] and broker["ok"]
        body["status"] = "ok" if ok else "unavailable"
        return JSONResponse(body, status_code=200 if ok else 503)

    return app
