"""`dispatch staff`: accounts, roles, API tokens and the audit trail."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import typer
from sqlalchemy.orm import Session

from dispatch.cli.support import fail, local, print_json, requires, settings_or_exit
from dispatch.staff.roles import Permission

staff_app = typer.Typer(no_args_is_help=True, help="Staff accounts, API tokens, audit trail.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens (shown once, stored hashed).")
staff_app.add_typer(token_app, name="token")


T = TypeVar("T")


def _run(action: Callable[[Session], T]) -> T:
    from dispatch.db import session_scope
    from dispatch.staff.accounts import StaffError

    try:
        with session_scope() as session:
            return action(session)
    except StaffError as error:
        fail(str(error))


def _send_link(link_id: int) -> str:
    """Email a link now, from this process; says what happened."""
    from dispatch.db import session_scope
    from dispatch.delivery import transactional
    from dispatch.staff import mail

    settings = settings_or_exit()
    with session_scope() as session:
        prepared = mail.prepare(session, settings, link_id)
    if prepared is None:
        return "nothing to send"
    outcome = transactional.send_once(settings, prepared.recipient, prepared.message)
    if not outcome.ok:
        return f"the email was not sent: {outcome.summary()}"
    with session_scope() as session:
        mail.mark_sent(session, link_id)
    where = "written to the outbox" if settings.mail.transport == "outbox" else "emailed"
    return f"{where} for {prepared.recipient}"


@staff_app.command("add")
@requires(Permission.STAFF)
def add(
    email: str,
    role: str = typer.Option(..., "--role", help="owner, editor, author or viewer"),
    name: str = typer.Option("", "--name"),
    language: str = typer.Option("fr", "--language", help="fr or en"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input instead."
    ),
) -> None:
    """Add a staff member; prints a one-time link to set the password (also emailed)."""
    from dispatch.staff import accounts

    settings = settings_or_exit()
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    def action(session: Session) -> tuple[str, int | None, str | None]:
        user = accounts.add_staff(session, email=email, role=role, name=name, language=language)
        if password is not None:
            accounts.set_password(session, settings, user, password)
            return user.email, None, None
        link = accounts.create_link(session, settings, user, "invite")
        return user.email, link.id, accounts.link_url(settings, link)

    address, link_id, url = _run(action)
    if link_id is None:
        typer.echo(f"{address} added as {role}, with the password given.")
        return
    hours = settings.staff.invite_hours
    typer.echo(f"{address} added as {role}. They choose their password at (valid {hours} h, once):")
    typer.echo(url)
    typer.echo(f"Invitation {_send_link(link_id)}.")


@staff_app.command("list")
@requires(Permission.READ)
def list_(json_: bool = typer.Option(False, "--json")) -> None:
    """Every staff member with their role."""
    from dispatch.staff import accounts

    settings_or_exit()
    rows = _run(lambda session: [accounts.as_dict(u) for u in accounts.list_staff(session)])
    if json_:
        print_json(rows)
        return
    if not rows:
        typer.echo("No staff accounts yet: dispatch staff add EMAIL --role owner")
    for row in rows:
        state = "active" if row["active"] else "disabled"
        extras = ", two-factor" if row["two_factor"] else ""
        if not row["password_set"]:
            extras += ", invited (no password yet)"
        seen = f", last login {local(row['last_login_at'])}" if row["last_login_at"] else ""
        typer.echo(f"{row['email']:<40} {row['role']:<7} {state}{extras}{seen}")


@staff_app.command("disable")
@requires(Permission.STAFF)
def disable(email: str) -> None:
    """Disable an account: its sessions end and its API tokens stop working."""
    from dispatch.staff import accounts

    settings_or_exit()
    _run(lambda session: accounts.set_active(session, accounts.get(session, email), False))
    typer.echo(f"{email} disabled.")


@staff_app.command("enable")
@requires(Permission.STAFF)
def enable(email: str) -> None:
    from dispatch.staff import accounts

    settings_or_exit()
    _run(lambda session: accounts.set_active(session, accounts.get(session, email), True))
    typer.echo(f"{email} enabled.")


@staff_app.command("role")
@requires(Permission.STAFF)
def role(email: str, new_role: str = typer.Argument(..., metavar="ROLE")) -> None:
    """Change someone's role (their sessions end: they log in again)."""
    from dispatch.staff import accounts

    settings_or_exit()
    _run(lambda session: accounts.set_role(session, accounts.get(session, email), new_role))
    typer.echo(f"{email} is now {new_role}.")


@staff_app.command("reset")
@requires(Permission.STAFF)
def reset(email: str) -> None:
    """A one-time link for someone to set a new password (printed, and emailed)."""
    from dispatch.staff import accounts

    settings = settings_or_exit()

    def action(session: Session) -> tuple[int, str]:
        link = accounts.create_link(session, settings, accounts.get(session, email), "reset")
        return link.id, accounts.link_url(settings, link)

    link_id, url = _run(action)
    typer.echo(f"{email} sets a new password at (valid {settings.staff.reset_hours} h, once):")
    typer.echo(url)
    typer.echo(f"Link {_send_link(link_id)}.")


@token_app.command("create")
@requires(Permission.STAFF)
def token_create(
    email: str,
    name: str = typer.Option(..., "--name", help="What uses it, e.g. 'WordPress site'."),
    scope: str = typer.Option("read", "--scope", help="read or write"),
    expires: int | None = typer.Option(None, "--expires", help="Days before it stops working."),
) -> None:
    """Make an API token acting for EMAIL; it is printed once and stored hashed."""
    from dispatch.staff import accounts, tokens

    settings_or_exit()
    _row, plain = _run(
        lambda session: tokens.create(
            session, accounts.get(session, email), name=name, scope=scope, expires_days=expires
        )
    )
    typer.echo(f"API token for {email} ({scope}); copy it now, it is not shown again:")
    typer.echo(plain)


@token_app.command("list")
@requires(Permission.STAFF)
def token_list(json_: bool = typer.Option(False, "--json")) -> None:
    from dispatch.staff import tokens

    settings_or_exit()
    rows = _run(lambda session: [tokens.as_dict(t) for t in tokens.list_tokens(session)])
    if json_:
        print_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        expiry = f", expires {local(row['expires_at'])}" if row["expires_at"] else ""
        used = f", last used {local(row['last_used_at'])}" if row["last_used_at"] else ""
        typer.echo(
            f"{row['id']:>4}  {row['prefix']:<16} {row['scope']:<5} {state:<7} "
            f"{row['owner']} — {row['name']}{expiry}{used}"
        )


@token_app.command("revoke")
@requires(Permission.STAFF)
def token_revoke(token_id: int = typer.Argument(..., metavar="ID")) -> None:
    from dispatch.staff import tokens

    settings_or_exit()
    _run(lambda session: tokens.revoke(session, token_id))
    typer.echo(f"API token {token_id} revoked.")


@staff_app.command("audit")
@requires(Permission.READ)
def audit_trail(
    json_: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    action: str | None = typer.Option(None, "--action", help="e.g. edition.scheduled"),
    actor: str | None = typer.Option(None, "--actor", help="An email address."),
) -> None:
    """Who did what, newest first."""
    from dispatch.staff import trail

    settings_or_exit()
    rows = _run(
        lambda session: [
            trail.as_dict(e) for e in trail.events(session, limit=limit, action=action, actor=actor)
        ]
    )
    if json_:
        print_json(rows)
        return
    for row in rows:
        target = f" {row['object_type']} {row['object_id']}" if row["object_type"] else ""
        typer.echo(f"{local(row['at'])}  {row['actor']:<32} {row['action']}{target}")
