"""The FastAPI app factory: settings and collaborators in, routes out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dispatch import health
from dispatch.config import Settings, get_settings
from dispatch.db import make_engine, make_sessionmaker, session_scope

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"
STATIC_DIR = Path(__file__).resolve().parent / "static"

Enqueue = Callable[..., None]


def _default_enqueue(name: str, *args: Any) -> None:
    from workers.app import enqueue  # the web process talks to the broker only through this

    enqueue(name, *args)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    enqueue: Enqueue | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    app = FastAPI(title="dispatch", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.enqueue = _default_enqueue if enqueue is None else enqueue
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    from dispatch.web import admin, archive, hooks, public

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(public.router)
    app.include_router(hooks.router)
    app.include_router(admin.router)
    app.include_router(archive.router)
    if settings.app.mode == "embedded":
        from dispatch.web import demo

        app.include_router(demo.router)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        from workers.app import broker_transport_options

        database = health.check_database(engine)
        broker = health.check_broker(settings.broker_url, broker_transport_options(settings))
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


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back on error."""
    with session_scope(request.app.state.sessions) as session:
        yield session


SessionDep = Depends(get_session)
