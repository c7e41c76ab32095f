"""`dispatch desk`: the editorial desk, one decision per item for every channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy.orm import Session

from dispatch.cli.support import fail, local, print_json, requires, settings_or_exit
from dispatch.content import desk
from dispatch.db import session_scope
from dispatch.social import desk as social_desk
from dispatch.staff.roles import Permission

desk_app = typer.Typer(
    no_args_is_help=True,
    help="The editorial desk: where each published item goes (alert, digests, letter, social).",
)
MARKS = {"released": "yes", "waiting": "waits", "off": "off", "held": "held"}


def _decide(action: Callable[[Session], Any]) -> dict[str, Any]:
    settings_or_exit()
    try:
        with session_scope() as session:
            decision = action(session)
            return social_desk.view(session, decision)
    except desk.DeskError as error:
        fail(str(error))


def _show(row: dict[str, Any]) -> None:
    channels = "  ".join(f"{name} {MARKS[state]}" for name, state in row["channels"].items())
    topics = ", ".join(row["topics"]) or "no topic"
    typer.echo(f"{row['item_id']:>5}  {row['state']:<9} {row['title'][:60]}  [{topics}]")
    decided = f" (by {row['decided_by']}, {local(row['decided_at'])})" if row["decided_by"] else ""
    typer.echo(f"       policy {row['policy']}{decided}: {channels}")


@desk_app.command("list")
@requires(Permission.READ)
def list_(
    json_: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(20, "--limit", help="How many decided items to show too."),
) -> None:
    """What awaits a decision first, then the latest decided items."""
    settings_or_exit()
    with session_scope() as session:
        waiting = desk.pending(session)
        ids = {d.id for d in waiting}
        recent = [d for d in desk.decisions(session, limit=limit) if d.id not in ids]
        rows = [social_desk.view(session, d) for d in [*waiting, *recent]]
    if json_:
        print_json(rows)
        return
    if not rows:
        typer.echo("Nothing on the desk yet.")
        return
    if not waiting:
        typer.echo("Nothing awaits a decision.")
    for row in rows:
        _show(row)


@desk_app.command("approve")
@requires(Permission.SOCIAL_APPROVE)
def approve(
    item_id: int,
    only: str = typer.Option(
        "", "--only", help="Release only these channels: alert,digest,letter,social,social:3"
    ),
) -> None:
    """Release the item on every channel at once (or only those given)."""
    chosen = [c for c in only.split(",") if c.strip()] or None
    row = _decide(lambda session: social_desk.approve(session, item_id, chosen))
    typer.echo(f"Item {item_id} released" + (f" on {', '.join(chosen)}." if chosen else "."))
    _show(row)


@desk_app.command("hold")
@requires(Permission.SOCIAL_APPROVE)
def hold(item_id: int) -> None:
    """Stop the item on every channel (its social posts not yet published are cancelled)."""
    row = _decide(lambda session: social_desk.hold(session, item_id))
    typer.echo(f"Item {item_id} held on every channel.")
    _show(row)


@desk_app.command("channel")
@requires(Permission.SOCIAL_APPROVE)
def channel(item_id: int, name: str, state: str = typer.Argument(..., help="on or off")) -> None:
    """Switch one channel on (released) or off for an item."""
    if state not in ("on", "off"):
        fail("say on or off")
    row = _decide(lambda session: social_desk.set_channel(session, item_id, name, state == "on"))
    typer.echo(f"Item {item_id}: {name} {state}.")
    _show(row)
