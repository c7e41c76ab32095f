"""The `dispatch` command: run the service, migrate, seed the demo, and staff commands."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from dispatch.cli_support import print_json, settings_or_exit
from dispatch.config import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")


def _register_domain_commands() -> None:
    from dispatch.audience.cli import subscribers_app
    from dispatch.content.cli import items_app, sources_app, topics_app
    from dispatch.delivery.cli import bounces_app
    from dispatch.editions.cli import editions_app
    from dispatch.social.cli import social_app

    app.add_typer(sources_app, name="sources")
    app.add_typer(items_app, name="items")
    app.add_typer(topics_app, name="topics")
    app.add_typer(subscribers_app, name="subscribers")
    app.add_typer(editions_app, name="editions")
    app.add_typer(bounces_app, name="bounces")
    app.add_typer(social_app, name="social")


_register_domain_commands()

F = TypeVar("F", bound=Callable[..., Any])


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the database to the latest schema (safe to run again)."""
    from dispatch import migrate
    from dispatch.db import default_engine

    settings_or_exit()
    migrate.upgrade(default_engine(), revision)
    typer.echo("Database is up to date.")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from dispatch import migrate
    from dispatch.db import default_engine

    settings_or_exit()
    migrate.check(default_engine())
    typer.echo("Models and migrations agree.")


@app.command()
def web(
    host: str | None = typer.Option(None, help="Default: web.host from settings."),
    port: int | None = typer.Option(None, help="Default: web.port from settings."),
) -> None:
    """Serve the web app with uvicorn."""
    import uvicorn

    settings = settings_or_exit()
    uvicorn.run(
        "dispatch.web.app:create_app",
        factory=True,
        host=host or settings.web.host,
        port=port or settings.web.port,
        log_level=settings.app.log_level.lower(),
        proxy_headers=True,
        # Paths carry personal tokens (/unsubscribe/…, /preferences/…, ?token= for staff):
        # they are not written to logs.
        access_log=False,
    )


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "--app", "workers.app", *args]


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context, concurrency: int = typer.Option(2)) -> None:
    """Run a Celery worker (extra options go to `celery worker`)."""
    settings = settings_or_exit()
    cmd = _celery("worker", "--loglevel", settings.app.log_level, "--concurrency", str(concurrency))
    os.execv(sys.executable, [*cmd, *ctx.args])  # noqa: S606 - replaces this process on purpose


@app.command()
def beat() -> None:
    """Run Celery beat: the one-minute ticks that claim due work from the database."""
    settings = settings_or_exit()
    os.execv(sys.executable, _celery("beat", "--loglevel", settings.app.log_level))  # noqa: S606


@app.command()
def demo() -> None:
    """Seed the demo data (first run only; safe to run again)."""
    from dispatch import demo as demo_module
    from dispatch.db import session_scope

    settings = settings_or_exit()
    with session_scope() as session:
        seeded = demo_module.seed(session, settings)
    typer.echo("Demo data seeded." if seeded else "Demo data already present.")


@app.command()
def run(
    migrate: bool = typer.Option(True, help="Run `db upgrade` first."),
) -> None:
    """Start the web app, a worker and beat together; Ctrl-C stops them all."""
    settings = settings_or_exit()
    settings.app.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        db_upgrade("head")
    me = [sys.executable, "-m", "dispatch"]
    children = {
        "web": subprocess.Popen([*me, "web"], start_new_session=True),  # noqa: S603
        "worker": subprocess.Popen([*me, "worker"], start_new_session=True),  # noqa: S603
        "beat": subprocess.Popen([*me, "beat"], start_new_session=True),  # noqa: S603
    }
    host, port = settings.web.host, settings.web.port
    typer.secho(f"dispatch is running at http://{host}:{port}  (Ctrl-C to stop)", fg="green")
    supervise(children)


def supervise(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """Wait until a signal or a child's death, then stop every child and its process group."""
    stopping = False

    def _stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    exit_code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                typer.secho(f"{name} exited with code {proc.returncode}; stopping.", fg="red")
                exit_code = 1
                stopping = True
        time.sleep(0.2)
    typer.echo("Stopping…")
    for proc in children.values():
        # The leader only: Celery's warm shutdown then stops its own pool processes.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    for proc in children.values():
        # Celery's pool processes share the child's group: none may outlive us.
        _signal_group(proc, signal.SIGKILL)
    raise typer.Exit(exit_code)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def main() -> None:
    # Typer prints its own errors; a ConfigError raised deep inside still gets a clean message.
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"Configuration error: {exc}", err=True, fg="red")
        sys.exit(2)


__all__ = ["app", "main", "print_json", "settings_or_exit"]
