"""The FastAPI app factory: settings and collaborators in, routes out."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from dispatch import doorbell as doorbells
from dispatch.config import Settings, get_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.web.headers import SecurityHeaders

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"
STATIC_DIR = Path(__file__).resolve().parent / "static"


class DispatchApp(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's own error
    responses (500) included: one middleware for every response the app sends."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), settings_of=self._settings)

    def _settings(self) -> Settings:
        settings: Settings = self.state.settings
        return settings


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    doorbell: doorbells.Doorbell | None = None,
) -> FastAPI:
    """The web app; `doorbell` rings the workers (default: the process's installed one)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, echo=settings.database.echo)
    app = DispatchApp(title="dispatch", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.doorbell = doorbell if doorbell is not None else doorbells.installed()
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

    from dispatch.web import (
        admin,
        archive,
        events,
        health,
        hooks,
        providers,
        redirects,
        subscribe,
        subscription,
    )

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(subscribe.router)
    app.include_router(subscription.router)
    app.include_router(hooks.router)
    app.include_router(providers.router)
    admin.install(app)
    from dispatch.web.api import create_api

    app.mount("/api/v1", create_api(app.state))

    @app.exception_handler(StarletteHTTPException)
    async def _api_shaped(request: Request, error: StarletteHTTPException) -> Response:
        # A path the API's mount cannot even match (a newline in it) still answers as the API.
        if request.url.path.startswith("/api/"):
            from dispatch.web.api import problems

            return problems.from_http_exception(error)
        if error.status_code in (404, 405) and "text/html" in request.headers.get("accept", ""):
            if request.url.path.startswith("/admin/"):
                answer = admin.not_found(request, error.status_code)
                answer.headers.update(error.headers or {})
                return answer
            from dispatch.web.pages import not_found

            answer = not_found(request, error.status_code)
            answer.headers.update(error.headers or {})
            return answer
        return await http_exception_handler(request, error)

    app.include_router(archive.router)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(redirects.router)
    if settings.app.mode == "embedded":
        from dispatch.web import demo

        app.include_router(demo.router)

    return app
