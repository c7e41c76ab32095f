"""The `dispatch` command and the web app as processes: where Celery is wired into dispatch.

`dispatch.cli` holds every staff command; this module adds the commands that start processes
(`web`, `worker`, `beat`, `run`) and installs the Celery doorbell, so that the commands and
the web app ring the workers without anything under `dispatch/` importing Celery.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import typer
from fastapi import FastAPI

from dispatch import doorbell
from dispatch.cli import app as cli
from dispatch.cli import main as run_cli
from dispatch.cli import settings_or_exit
from dispatch.cli.support import fail
from workers.app import BULK_QUEUE, TRANSACTIONAL_QUEUE, bell

#: How this command starts itself again (the children of `dispatch run`).
SELF = [sys.executable, "-m", "workers"]


def web_app() -> FastAPI:
    """The ASGI app uvicorn serves (`--factory`), ringing the workers through Celery."""
    from dispatch.web.app import create_app

    return create_app(doorbell=bell)


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "--app", "workers.app", *args]


@cli.command()
def web(
    host: str | None = typer.Option(None, help="Default: web.host from settings."),
    port: int | None = typer.Option(None, help="Default: web.port from settings."),
) -> None:
    """Serve the web app with uvicorn."""
    import uvicorn

    settings = settings_or_exit()
    host, port = host or settings.web.host, port or settings.web.port
    _check_port_free(host, port)
    uvicorn.run(
        "workers.main:web_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.app.log_level.lower(),
        # The visitor's address and scheme are decided by dispatch alone, from
        # web.trusted_proxies (dispatch/web/clientip.py): uvicorn would trust X-Forwarded-For
        # from any loopback peer.
        proxy_headers=False,
        # Paths carry personal tokens (/unsubscribe/…, /preferences/…): never logged.
        access_log=False,
    )


@cli.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(2),
    queues: str = typer.Option(
        "",
        "--queues",
        help=f"Comma-separated queues to take ({BULK_QUEUE}, {TRANSACTIONAL_QUEUE}); "
        "default: both.",
    ),
) -> None:
    """Run a Celery worker (extra options go to `celery worker`)."""
    settings = settings_or_exit()
    cmd = _celery("worker", "--loglevel", settings.app.log_level, "--concurrency", str(concurrency))
    if queues:
        cmd += ["--queues", queues]
    os.execv(sys.executable, [*cmd, *ctx.args])  # noqa: S606 - replaces this process on purpose


@cli.command()
def beat() -> None:
    """Run Celery beat: the one-minute ticks that claim due work from the database."""
    settings = settings_or_exit()
    os.execv(sys.executable, _celery("beat", "--loglevel", settings.app.log_level))  # noqa: S606


@cli.command()
def run(
    migrate: bool = typer.Option(True, help="Run `db upgrade` first."),
) -> None:
    """Start the web app, the workers and beat together; Ctrl-C stops them all.

    Two workers: one for bulk work (edition batches, polls, ticks) and one for the mail a
    person is waiting for (confirmations, welcomes, links), which never queues behind a send.
    """
    from dispatch.cli import db_upgrade
    from dispatch.demo import LOGIN_FILE

    settings = settings_or_exit()
    settings.app.data_dir.mkdir(parents=True, exist_ok=True)
    host, port = settings.web.host, settings.web.port
    _check_port_free(host, port)
    if migrate:
        db_upgrade("head")
    children = {
        "web": subprocess.Popen([*SELF, "web"], start_new_session=True),  # noqa: S603
        "worker": subprocess.Popen(  # noqa: S603
            [*SELF, "worker", "--queues", BULK_QUEUE], start_new_session=True
        ),
        "mail worker": subprocess.Popen(  # noqa: S603
            [*SELF, "worker", "--queues", TRANSACTIONAL_QUEUE, "--concurrency", "1"],
            start_new_session=True,
        ),
        "beat": subprocess.Popen([*SELF, "beat"], start_new_session=True),  # noqa: S603
    }
    if _wait_for_web(host, port, children["web"]):
        typer.secho(f"dispatch is running at http://{host}:{port}  (Ctrl-C to stop)", fg="green")
        login = settings.app.data_dir / LOGIN_FILE
        where = f"; the demo owner's login is in {login}" if login.exists() else ""
        typer.echo(f"Staff log in at http://{host}:{port}/admin/login{where}.")
    supervise(children)


def _check_port_free(host: str, port: int) -> None:
    """Stop with a plain sentence when the port is taken, before anything starts."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            fail(
                f"Port {port} on {host} is already in use (is dispatch already running?). "
                f"Stop the other program, or choose another port: "
                f"DISPATCH_WEB__PORT={port + 1} make run",
                code=2,
            )


def _wait_for_web(host: str, port: int, web_process: subprocess.Popen[bytes]) -> bool:
    """True once the web app accepts connections; False if it died first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and web_process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        time.sleep(0.2)
    return web_process.poll() is None


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
    doorbell.install(bell)
    run_cli(cli)
