"""`dispatch events`: upcoming events, their reminder schedule, and reminders off for one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from dispatch import i18n
from dispatch.cli.support import fail, local, print_json, require_now, requires, settings_or_exit
from dispatch.staff.roles import Permission

events_app = typer.Typer(no_args_is_help=True, help="Events: reminders, changes, calendar files.")

_STATES = {
    "sent": "sent",
    "due": "due now",
    "planned": "planned",
    "missed": "missed",
    "off": "off for this event",
    "nobody": "nobody to remind",
}


def _at(value: str | None, timezone: str) -> datetime | None:
    if not value:
        return None
    try:
        return i18n.parse_local(value, timezone=timezone)
    except ValueError as error:
        fail(f"--at: {error}")


def _event_row(item: Any, base_url: str, timezone: str) -> dict[str, Any]:
    from dispatch.content.items import item_as_dict
    from dispatch.editions.service import event_ics_url

    row = item_as_dict(item)
    row["when"] = i18n.staff_span(
        item.event_start, item.event_end, all_day=item.all_day, timezone=timezone
    )
    row["ics_url"] = event_ics_url(base_url, item.id)
    return row


@events_app.command("list")
@requires(Permission.READ)
def list_(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """Upcoming events, soonest first: when, status, reminders, calendar file."""
    from sqlalchemy import or_, select

    from dispatch.content.models import ContentItem
    from dispatch.db import session_scope, utcnow

    settings = settings_or_exit()
    timezone = settings.app.timezone
    with session_scope() as session:
        items = session.scalars(
            select(ContentItem)
            .where(
                ContentItem.kind == "event",
                ContentItem.event_start.is_not(None),
                or_(ContentItem.event_end >= utcnow(), ContentItem.event_start >= utcnow()),
                or_(ContentItem.status == "published", ContentItem.event_status == "cancelled"),
            )
            .order_by(ContentItem.event_start, ContentItem.id)
            .limit(limit)
        ).all()
        rows = [_event_row(item, settings.app.base_url, timezone) for item in items]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("No upcoming events.")
    for row in rows:
        flags = []
        if row["event_status"] == "cancelled":
            flags.append("CANCELLED")
        if not row["reminders"]:
            flags.append("no reminders")
        extra = f"  ({', '.join(flags)})" if flags else ""
        typer.echo(f"{row['id']:>5}  {row['when']:<34} {row['title']}{extra}")


@events_app.command("reminders")
@requires(Permission.READ)
def reminders_(
    at: str | None = typer.Option(
        None, "--at", help='Show the schedule as it stands then: "2026-12-01 09:00" (Paris).'
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only show what would go out; send nothing."
    ),
    event: int | None = typer.Option(None, "--event", help="Only this event."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """The reminder schedule of upcoming events; without --dry-run, send the due ones now.

    Each event has one reminder per `events.reminder_days` (7 and 1 days before by default),
    at the event's own time of day. Beat sends due reminders every minute on its own: this
    command shows the schedule, and sends what is due at once.
    """
    from dispatch.db import session_scope
    from dispatch.editions import reminders

    settings = settings_or_exit()
    if not dry_run:
        require_now(Permission.SEND)  # sending what is due is a send
    when = _at(at, settings.app.timezone)
    if when is not None and not dry_run:
        fail("--at only shows a schedule: add --dry-run (reminders go out at their own time).")
    with session_scope() as session:
        if dry_run:
            slots = reminders.plan(session, settings, now=when, item_id=event)
            created: list[int] = []
        else:
            report = reminders.create_due_reminders(session, settings)
            created = report.created
            slots = reminders.plan(session, settings, item_id=event)
    if as_json:
        print_json({"created": created, "reminders": [slot.as_dict() for slot in slots]})
        return
    if not slots:
        typer.echo("No upcoming event has a reminder to send.")
    current = None
    for slot in slots:
        if slot.item_id != current:
            current = slot.item_id
            span = i18n.staff_span(
                slot.event_start, None, all_day=slot.all_day, timezone=settings.app.timezone
            )
            typer.echo(f"{slot.item_id:>5}  {span}  {slot.title}")
        readers = f", {slot.readers} reader(s)" if slot.readers is not None else ""
        edition = f", edition {slot.edition_id}" if slot.edition_id else ""
        typer.echo(
            f"         {slot.offset_days} day(s) before: {local(slot.due_at)}  "
            f"{_STATES.get(slot.state, slot.state)}{readers}{edition}"
        )
    if created:
        typer.echo(f"Reminder edition(s) created: {', '.join(map(str, created))}.")
    elif not dry_run:
        typer.echo("Nothing due now.")


def _switch(item_id: int, *, on: bool) -> None:
    from dispatch.db import session_scope
    from dispatch.editions import reminders
    from dispatch.editions.errors import DraftError

    settings_or_exit()
    try:
        with session_scope() as session:
            item = reminders.set_reminders(session, item_id, on=on)
            title = item.title
    except DraftError as error:
        fail(str(error))
    state = "on" if on else "off"
    typer.echo(f"Reminders {state} for event {item_id}: {title}")


@events_app.command("reminders-off")
@requires(Permission.CONTENT)
def reminders_off(item_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Send no reminder for this event (those already sent stay sent)."""
    _switch(item_id, on=False)


@events_app.command("reminders-on")
@requires(Permission.CONTENT)
def reminders_on(item_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Send this event's reminders again (the ones still to come)."""
    _switch(item_id, on=True)


@events_app.command("show")
@requires(Permission.READ)
def show(
    item_id: int = typer.Argument(..., metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """One event: when and where, its calendar file, reminders and the changes readers heard."""
    from sqlalchemy import select

    from dispatch.content.changes import changes_of
    from dispatch.content.models import ContentItem
    from dispatch.db import session_scope
    from dispatch.editions import reminders
    from dispatch.editions.models import EventNotice

    settings = settings_or_exit()
    with session_scope() as session:
        item = session.get(ContentItem, item_id)
        if item is None or item.kind != "event":
            fail(f"No event with id {item_id} (see `dispatch events list`).")
        row = _event_row(item, settings.app.base_url, settings.app.timezone)
        row["reminders_schedule"] = [
            slot.as_dict() for slot in reminders.plan(session, settings, item_id=item_id)
        ]
        outcomes = {
            notice.change_id: notice
            for notice in session.scalars(select(EventNotice).where(EventNotice.item_id == item_id))
        }
        row["changes"] = [
            {
                "id": change.id,
                "kind": change.kind,
                "sequence": change.sequence,
                "detected_at": change.detected_at.isoformat(),
                "outcome": outcomes[change.id].outcome if change.id in outcomes else "pending",
                "notice_edition": outcomes[change.id].edition_id if change.id in outcomes else None,
            }
            for change in changes_of(session, item_id)
        ]
    if as_json:
        print_json(row)
        return
    typer.echo(f"Event {row['id']}: {row['title']}")
    typer.echo(
        f"  When: {row['when']}" + (" — CANCELLED" if row["event_status"] == "cancelled" else "")
    )
    for label, key in (
        ("Where", "location"),
        ("Online", "online_url"),
        ("Register", "registration_url"),
        ("Organiser", "organiser"),
        ("Price", "cost"),
    ):
        if row.get(key):
            typer.echo(f"  {label}: {row[key]}")
    typer.echo(f"  Calendar file: {row['ics_url']} (sequence {row['sequence']})")
    typer.echo(f"  Reminders: {'on' if row['reminders'] else 'off'}")
    for slot in row["reminders_schedule"]:
        typer.echo(
            f"    {slot['offset_days']} day(s) before: {local(slot['due_at'])}  "
            f"{_STATES.get(slot['state'], slot['state'])}"
        )
    for change in row["changes"]:
        typer.echo(
            f"  Change {change['id']} ({change['kind']}, sequence {change['sequence']}) "
            f"at {local(change['detected_at'])}: {change['outcome']}"
        )
