"""`dispatch subscribers`: staff commands for subscribers, import/export and GDPR."""

from __future__ import annotations

import typer

subscribers_app = typer.Typer(no_args_is_help=True, help="Subscribers, import/export, GDPR.")
