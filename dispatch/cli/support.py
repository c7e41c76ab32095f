"""Helpers every command module shares: settings or a clean exit, JSON output, failures."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NoReturn

import typer

from dispatch.config import ConfigError, Settings, get_settings
from dispatch.i18n import staff_time


def settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        typer.secho(f"Configuration error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc


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
