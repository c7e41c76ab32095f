"""`dispatch bounces`: read the bounce mailbox and apply bounces and complaints."""

from __future__ import annotations

import json

import typer

from dispatch.cli.support import fail, requires, settings_or_exit
from dispatch.staff.roles import Permission

bounces_app = typer.Typer(no_args_is_help=True, help="Bounces and complaints.")


@bounces_app.command("process")
@requires(Permission.BOUNCES)
def process(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Read the bounce mailbox (Maildir or IMAP) and apply bounces and complaints."""
    from dispatch.db import default_engine, make_sessionmaker
    from dispatch.delivery.bounces import handling

    settings = settings_or_exit()
    try:
        summary = handling.process_bounces(make_sessionmaker(default_engine()), settings)
    except (ValueError, FileNotFoundError, OSError) as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
        return
    typer.echo(
        f"{summary.read} messages read: {summary.hard} hard bounces, {summary.soft} soft, "
        f"{summary.complaints} complaints, {summary.suppressed} addresses suppressed, "
        f"{summary.unmatched} unmatched, {summary.ignored} ignored, "
        f"{summary.already_done} already processed, {summary.unreadable} unreadable."
    )
