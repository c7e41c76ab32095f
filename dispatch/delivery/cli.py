"""`dispatch bounces` (process the bounce mailbox) and the send controls of `dispatch editions`:
schedule, send, pause, resume, cancel, status."""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any

import typer

from dispatch.editions.cli import editions_app

bounces_app = typer.Typer(no_args_is_help=True, help="Bounces and complaints.")


def _settings() -> Any:
    from dispatch.cli import settings_or_exit

    return settings_or_exit()


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg="red")
    raise typer.Exit(1)


def _enqueue_batches(edition_id: int, count: int) -> None:
    """Ring the workers' doorbell; if the broker cannot be reached, beat's tick will."""
    if count <= 0:
        return
    try:
        enqueue = importlib.import_module("workers.app").enqueue
        for _ in range(count):
            enqueue("delivery.send_batch", edition_id)
    except Exception as error:  # the rows are committed: the next tick starts the batches
        typer.secho(
            f"Could not reach the task broker ({error}); the next delivery tick will start "
            "the send.",
            err=True,
            fg="yellow",
        )


def _run(action: Any) -> Any:
    from dispatch.db import session_scope
    from dispatch.delivery.engine import EditionStateError

    try:
        with session_scope() as session:
            return action(session)
    except EditionStateError as error:
        _fail(str(error))


@editions_app.command("schedule")
def schedule(
    edition_id: int = typer.Argument(..., metavar="ID"),
    at: str = typer.Option(
        ..., "--at", help='"2026-12-01 09:00" (Europe/Paris unless an offset is given)'
    ),
) -> None:
    """Schedule an edition: beat starts it at that time."""
    from dispatch.delivery import service

    settings = _settings()

    def action(session: Any) -> str:
        send_at = service.parse_send_at(at, timezone=settings.app.timezone)
        edition = service.schedule_edition(session, edition_id, send_at=send_at)
        return f"Edition {edition.id} scheduled for {send_at:%Y-%m-%d %H:%M %Z}."

    typer.echo(_run(action))


@editions_app.command("send")
def send(
    edition_id: int = typer.Argument(..., metavar="ID"),
    now: bool = typer.Option(False, "--now", help="Start sending at once."),
    wait: bool = typer.Option(False, "--wait", help="Show progress until the send ends."),
) -> None:
    """Send an edition now (`--now`); `--wait` follows its progress."""
    from dispatch.delivery import service

    if not now:
        _fail("Say `--now` to send at once, or use `dispatch editions schedule ID --at …`.")
    settings = _settings()
    result = _run(lambda session: service.send_now(session, edition_id, settings=settings))
    typer.echo(f"Edition {edition_id}: sending to {result.recipients} recipients.")
    _enqueue_batches(edition_id, result.batches)
    if wait:
        _wait(edition_id)


def _status(edition_id: int) -> dict[str, Any]:
    from dispatch.delivery import service

    result: dict[str, Any] = _run(lambda session: service.status(session, edition_id))
    return result


def _wait(edition_id: int) -> None:
    final = ("sent", "cancelled", "paused")
    if sys.stdout.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as progress:
            state = _status(edition_id)
            task = progress.add_task(f"Edition {edition_id}", total=state["recipients"] or 1)
            while True:
                progress.update(task, completed=state["done"], total=state["recipients"] or 1)
                if state["status"] in final:
                    break
                time.sleep(0.5)
                state = _status(edition_id)
    else:
        while (state := _status(edition_id))["status"] not in final:
            time.sleep(2)
            typer.echo(f"{state['done']}/{state['recipients']} done, {state['rate_per_second']}/s")
    typer.echo(_summary(state))
    if state["status"] != "sent":
        raise typer.Exit(1)


def _summary(state: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in state["counts"].items() if v)
    line = f"Edition {state['id']} is {state['status']}: {counts or 'no recipients'}."
    if state.get("status_reason"):
        line += f"\n{state['status_reason']}"
    return line


@editions_app.command("pause")
def pause(edition_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Pause a sending or scheduled edition."""
    from dispatch.delivery import service

    _run(lambda session: service.pause(session, edition_id))
    typer.echo(f"Edition {edition_id} paused.")


@editions_app.command("resume")
def resume(edition_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Resume a paused edition."""
    from dispatch.delivery import service

    batches = _run(lambda session: service.resume(session, edition_id))
    _enqueue_batches(edition_id, batches)
    typer.echo(f"Edition {edition_id} resumed.")


@editions_app.command("cancel")
def cancel(edition_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Cancel an edition: whatever has not been sent is not sent."""
    from dispatch.delivery import service

    _run(lambda session: service.cancel(session, edition_id))
    typer.echo(f"Edition {edition_id} cancelled.")


@editions_app.command("status")
def status(
    edition_id: int = typer.Argument(..., metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Counts by status, current rate and estimated end of a send."""
    state = _status(edition_id)
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False, indent=2))
        return
    typer.echo(_summary(state))
    if state["status"] == "sending":
        typer.echo(
            f"Rate: {state['rate_per_second']} messages/s; "
            f"estimated end: {state['estimated_end'] or 'unknown'}"
        )
    elif state["status"] == "scheduled":
        typer.echo(f"Scheduled for {state['send_at']}.")


@bounces_app.command("process")
def process(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Read the bounce mailbox (Maildir or IMAP) and apply bounces and complaints."""
    from dispatch.db import default_engine, make_sessionmaker
    from dispatch.delivery import processing

    settings = _settings()
    try:
        summary = processing.process_bounces(make_sessionmaker(default_engine()), settings)
    except (ValueError, FileNotFoundError, OSError) as error:
        _fail(str(error))
        return
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    typer.echo(
        f"{summary.read} messages read: {summary.hard} hard bounces, {summary.soft} soft, "
        f"{summary.complaints} complaints, {summary.suppressed} addresses suppressed, "
        f"{summary.unmatched} unmatched, {summary.ignored} ignored, "
        f"{summary.already_done} already processed, {summary.unreadable} unreadable."
    )
