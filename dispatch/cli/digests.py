"""`dispatch editions digest`: a weekly or monthly digest on demand, or only what it would be.

Registered on `dispatch editions` (imported by `dispatch.cli`).
"""

from __future__ import annotations

from typing import Literal

import typer

from dispatch.cli.editions import editions_app
from dispatch.cli.support import fail, local, print_json, require_now, requires, settings_or_exit
from dispatch.staff.roles import Permission

#: Readers listed one by one in the text output (--json lists them all).
SHOWN_READERS = 20


@editions_app.command("digest")
@requires(Permission.READ)
def digest(
    period: str = typer.Argument(..., metavar="weekly|monthly"),
    at: str = typer.Option(
        "", "--at", help='As if it were this time, Europe/Paris: "2026-12-07 08:00" (default: now).'
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show readers and their items."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Build the digest of the period due at --at (or show it, with --dry-run).

    Each reader gets the items of their own topics they have not already received; a reader
    with nothing new gets no digest. Without --dry-run the digest is scheduled at once.
    """
    from dispatch.db import session_scope, utcnow
    from dispatch.delivery import counts
    from dispatch.editions import digests
    from dispatch.editions.errors import EditionStateError
    from dispatch.editions.schedule import parse_send_at

    settings = settings_or_exit()
    if period not in digests.PERIODS:
        fail(f"The period is weekly or monthly, not {period!r}.")
    chosen: Literal["weekly", "monthly"] = "weekly" if period == "weekly" else "monthly"
    if not dry_run:
        require_now(Permission.SEND)
    try:
        moment = parse_send_at(at, timezone=settings.app.timezone) if at else utcnow()
    except EditionStateError as error:
        fail(str(error))
    with session_scope() as session:
        plan = counts.plan_digest(session, chosen, at=moment)
        created = None
        if not dry_run and plan.existing_id is None and plan.receiving:
            edition = digests.create_digest(session, chosen, now=moment, catch_up=False)
            created = edition.id if edition is not None else None
        data = plan.as_dict()
    data["dry_run"] = dry_run
    data["created_edition"] = created
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"{chosen.capitalize()} digest {data['key']}: items published from "
        f"{local(data['since'])} to {local(data['until'])}."
    )
    typer.echo(f"Items ({len(data['items'])}):")
    for item in data["items"]:
        typer.echo(f"  [{item['id']}] {item['title']}  ({', '.join(item['topics'])})")
    typer.echo(
        f"Readers: {data['readers']} at this rhythm; {data['receiving']} get a digest, "
        f"{data['nothing_new']} have nothing new and get none."
    )
    for reader in data["per_reader"][:SHOWN_READERS]:
        items = ", ".join(map(str, reader["items"])) or "nothing new"
        typer.echo(f"  {reader['email']}: {items}")
    if len(data["per_reader"]) > SHOWN_READERS:
        typer.echo(f"  … and {len(data['per_reader']) - SHOWN_READERS} more (--json lists all).")
    if data["existing_edition"] is not None:
        typer.echo(f"This digest already exists: edition {data['existing_edition']}.")
    elif created is not None:
        typer.echo(f"Edition {created} created and scheduled now.")
    elif not dry_run:
        typer.echo("Nothing to send: no reader has anything new in their topics.")
