"""`dispatch social`: accounts and posts on Mastodon, Bluesky and LinkedIn."""

from __future__ import annotations

import typer

social_app = typer.Typer(no_args_is_help=True, help="Social accounts and posts.")
