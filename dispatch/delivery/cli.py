"""`dispatch bounces`: process bounces and complaints from the bounce mailbox."""

from __future__ import annotations

import typer

bounces_app = typer.Typer(no_args_is_help=True, help="Bounces and complaints.")
