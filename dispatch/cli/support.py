"""Helpers every command module shares: settings or a clean exit, JSON output, failures."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer

from dispatch.config import ConfigError, Settings, get_settings


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
