"""`dispatch bounces`: read the bounce mailbox, apply bounces and complaints, and review the
reports held because nothing proved which delivery they were about."""

from __future__ import annotations

import json

import typer

from dispatch.cli.support import fail, local, print_json, requires, settings_or_exit
from dispatch.db import session_scope
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
        f"{summary.held} held for review, {summary.unmatched} unmatched, "
        f"{summary.ignored} ignored, {summary.already_done} already processed, "
        f"{summary.unreadable} unreadable (set aside)."
    )
    if summary.held or summary.unreadable:
        typer.echo("Review them with: dispatch bounces held")


@bounces_app.command("held")
@requires(Permission.READ)
def held_list(
    all_: bool = typer.Option(False, "--all", help="Also the ones already applied or discarded."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Reports held for review: they proved no delivery, so they changed nobody."""
    from dispatch.delivery.bounces import held

    settings = settings_or_exit()
    with session_scope() as session:
        rows = [held.held_as_dict(r) for r in held.list_held(session, include_resolved=all_)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("No held reports.")
        return
    for row in rows:
        recipients = ", ".join(row["recipients"]) or "no address"
        state = f"  [{row['resolution']}: {row['outcome']}]" if row["resolution"] else ""
        typer.echo(
            f"{row['id']:>5}  {local(row['received_at'], settings.app.timezone)}  "
            f"{row['kind']:<10} {recipients}{state}"
        )
        for label in ("origin", "diagnostic", "reason"):
            if row[label]:
                typer.echo(f"       {label}: {row[label]}")
    if any(row["resolution"] is None for row in rows):
        typer.echo(
            "Apply one you trust with `dispatch bounces apply ID`, "
            "or drop it with `dispatch bounces discard ID`."
        )


@bounces_app.command("apply")
@requires(Permission.BOUNCES)
def held_apply(ids: list[int] = typer.Argument(..., help="Held report ids.")) -> None:
    """Apply held reports as if proven: bounce or complaint for the addresses they name."""
    from dispatch.delivery.bounces import handling, held

    settings = settings_or_exit()
    failed = False
    for held_id in ids:
        try:
            with session_scope() as session:
                row = handling.apply_held(session, settings, held_id)
                outcome = row.outcome
        except held.HeldReportError as error:
            typer.secho(str(error), err=True, fg="red")
            failed = True
            continue
        typer.echo(f"Held report {held_id} applied: {outcome}.")
    if failed:
        raise typer.Exit(1)


@bounces_app.command("discard")
@requires(Permission.BOUNCES)
def held_discard(ids: list[int] = typer.Argument(..., help="Held report ids.")) -> None:
    """Discard held reports: they change nothing and leave the waiting list."""
    from dispatch.delivery.bounces import held

    settings_or_exit()
    failed = False
    for held_id in ids:
        try:
            with session_scope() as session:
                held.discard(session, held_id)
        except held.HeldReportError as error:
            typer.secho(str(error), err=True, fg="red")
            failed = True
            continue
        typer.echo(f"Held report {held_id} discarded.")
    if failed:
        raise typer.Exit(1)
