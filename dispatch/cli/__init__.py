"""The `dispatch` command's own commands: the schema, the demo, and one group per staff task.

The processes (`web`, `worker`, `beat`, `run`) are added by `workers.main`, which wires the
task broker in: this package, like everything under `dispatch/`, never imports Celery.
"""

from __future__ import annotations

import sys

import typer

from dispatch.cli.support import print_json, set_identity, settings_or_exit
from dispatch.config import ConfigError

HELP = """dispatch: newsletters, alerts, digests and social posts from what you publish.

Staff commands act as the operator at this server's command line, or as the staff member
named with --as (their role then applies and the audit trail names them)."""

app = typer.Typer(no_args_is_help=True, add_completion=False, help=HELP)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")


@app.callback()
def _who(
    as_: str | None = typer.Option(
        None,
        "--as",
        envvar="DISPATCH_AS",
        metavar="EMAIL",
        help="Act as this staff member (their role applies and the audit trail names them); "
        "without it, the operator at the server's command line.",
    ),
) -> None:
    set_identity(as_)


def _register_groups() -> None:
    from dispatch.cli import digests as _digests  # noqa: F401  (adds `editions digest`)
    from dispatch.cli.bounces import bounces_app
    from dispatch.cli.content import items_app, sources_app, topics_app
    from dispatch.cli.doctor import doctor
    from dispatch.cli.editions import editions_app
    from dispatch.cli.events import events_app
    from dispatch.cli.social import social_app
    from dispatch.cli.staff import staff_app
    from dispatch.cli.subscribers import subscribers_app

    app.add_typer(sources_app, name="sources")
    app.add_typer(items_app, name="items")
    app.add_typer(topics_app, name="topics")
    app.add_typer(subscribers_app, name="subscribers")
    app.add_typer(editions_app, name="editions")
    app.add_typer(events_app, name="events")
    app.add_typer(bounces_app, name="bounces")
    app.add_typer(social_app, name="social")
    app.add_typer(staff_app, name="staff")
    app.command()(doctor)


_register_groups()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the database to the latest schema (safe to run again)."""
    from dispatch import migrate
    from dispatch.db import default_engine

    settings_or_exit()
    migrate.upgrade(default_engine(), revision)
    typer.echo("Database is up to date.")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from dispatch import migrate
    from dispatch.db import default_engine

    settings_or_exit()
    migrate.check(default_engine())
    typer.echo("Models and migrations agree.")


@app.command()
def demo() -> None:
    """Seed the demo data (first run only; safe to run again)."""
    from dispatch import demo as demo_module
    from dispatch.db import session_scope

    settings = settings_or_exit()
    with session_scope() as session:
        seeded = demo_module.seed(session, settings)
        password = demo_module.seed_owner(session, settings)
    typer.echo("Demo data seeded." if seeded else "Demo data already present.")
    if password is not None:
        login = settings.app.data_dir / demo_module.LOGIN_FILE
        typer.secho(
            f"Staff login: {demo_module.DEMO_OWNER} / {password}  (kept in {login})", fg="green"
        )


def main(command: typer.Typer = app) -> None:
    # Typer prints its own errors; a ConfigError raised deep inside still gets a clean message.
    try:
        command()
    except ConfigError as exc:
        typer.secho(f"Configuration error: {exc}", err=True, fg="red")
        sys.exit(2)


__all__ = ["app", "main", "print_json", "settings_or_exit"]
