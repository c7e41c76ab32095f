"""`dispatch editions`: compose, preview, test-send, schedule and watch editions."""

from __future__ import annotations

import typer

editions_app = typer.Typer(no_args_is_help=True, help="Newsletters, alerts and digests.")
