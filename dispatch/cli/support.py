"""Helpers every command module shares: settings or a clean exit, JSON output, failures,
and who runs the command (`--as EMAIL`, or the operator at the server's shell)."""

from __future__ import annotations

import functools
import getpass
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer

from dispatch import audit, config
from dispatch.config import ConfigError, Settings, get_settings
from dispatch.i18n import staff_time
from dispatch.staff.roles import ForbiddenError, Permission, actor_for, require

F = TypeVar("F", bound=Callable[..., Any])
_identity: dict[str, str | None] = {"email": None}


def settings_or_exit() -> Settings:
    try:
        settings = get_settings()
    except ConfigError as exc:
        typer.secho(f"Configuration error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    if config.generated_secrets is not None:
        typer.secho(
            f"Made this installation's own secrets in {config.generated_secrets} "
            "(keep that file private; back it up with the database).",
            fg="yellow",
            err=True,
        )
        config.generated_secrets = None
    return settings


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(message, err=True, fg="red")
    raise typer.Exit(code)


def local(value: datetime | str | None, timezone: str | None = None) -> str:
    """A stored time as staff read it: ``2026-12-01 09:00`` in the organisation's time zone.

    `--json` output keeps ISO 8601 with offsets; what a person reads is local, to the minute.
    """
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return staff_time(moment, timezone=timezone or settings_or_exit().app.timezone)


def set_identity(email: str | None) -> None:
    """`dispatch --as EMAIL …`: the staff account the command acts for (checked when used)."""
    _identity["email"] = email.strip() if email else None
    audit.act_as(_operator())


def _operator() -> audit.Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return audit.Actor("operator", f"operator:{user}", "cli")


def cli_actor() -> audit.Actor:
    """Who this command acts for, resolved once: the `--as` account, else the operator."""
    email = _identity["email"]
    current = audit.process_actor()
    if not email or current.kind == "staff":
        return current
    from dispatch.db import session_scope
    from dispatch.staff import accounts

    settings_or_exit()
    with session_scope() as session:
        user = accounts.find(session, email)
        if user is None or not user.active:
            fail(f"--as {email}: no active staff account with that address.", code=3)
        actor = actor_for(user, via="cli")
    audit.act_as(actor)
    return actor


def require_now(permission: Permission) -> None:
    """Inside a command whose options decide what it does: refuse unless allowed."""
    try:
        require(cli_actor(), permission)
    except ForbiddenError as error:
        fail(str(error), code=3)


def requires(permission: Permission) -> Callable[[F], F]:
    """A command that acts for a person: refused unless their role allows `permission`."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def checked(*args: Any, **kwargs: Any) -> Any:
            require_now(permission)
            return command(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
