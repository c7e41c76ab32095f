"""`dispatch sources|items|topics`: staff commands for content."""

from __future__ import annotations

import typer

sources_app = typer.Typer(no_args_is_help=True, help="Feeds and sites that content comes from.")
items_app = typer.Typer(no_args_is_help=True, help="Content items: posts, events, picks.")
topics_app = typer.Typer(no_args_is_help=True, help="Topics subscribers choose from.")
