"""`dispatch social`: accounts and posts on Mastodon, Bluesky and LinkedIn."""

from __future__ import annotations

import getpass
import os
from datetime import datetime, timedelta

import typer

from dispatch import i18n
from dispatch.cli.support import fail, local, print_json, requires, settings_or_exit
from dispatch.config import Settings
from dispatch.db import session_scope, utcnow
from dispatch.social import accounts, publishing, service
from dispatch.staff.roles import Permission

social_app = typer.Typer(no_args_is_help=True, help="Social accounts and posts.")
accounts_app = typer.Typer(no_args_is_help=True, help="The organisation's social accounts.")
posts_app = typer.Typer(no_args_is_help=True, help="Posts prepared for the accounts.")
social_app.add_typer(accounts_app, name="accounts")
social_app.add_typer(posts_app, name="posts")


def _staff() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "staff"


# --- accounts -----------------------------------------------------------------------------


@accounts_app.command("add")
@requires(Permission.SOCIAL_APPROVE)
def accounts_add(
    network: str = typer.Option(..., "--network", help="mastodon, bluesky or linkedin"),
    name: str = typer.Option(..., "--name", help="How staff recognise the account."),
    url: str = typer.Option(
        "",
        "--url",
        help="Mastodon: the instance (https://mastodon.social). Bluesky: the PDS "
        "(default https://bsky.social). LinkedIn: leave empty.",
    ),
    handle: str = typer.Option(
        "",
        "--handle",
        help="Bluesky: the handle to log in with. LinkedIn: the organisation id. "
        "Mastodon: @name, for display.",
    ),
    mode: str = typer.Option("approval", "--mode", help="automatic, approval or off"),
    delay: int = typer.Option(0, "--delay", help="Minutes to wait after an item appears."),
    language: str = typer.Option("fr", "--language", help="fr or en"),
    topic: list[str] = typer.Option([], "--topic", help="Topic slug (repeatable; none: all)."),
    credentials_env: str = typer.Option(
        "",
        "--credentials-env",
        help="Read the secrets from PREFIX_ACCESS_TOKEN, PREFIX_APP_PASSWORD, "
        "PREFIX_REFRESH_TOKEN, PREFIX_CLIENT_ID, PREFIX_CLIENT_SECRET.",
    ),
    store_credentials: bool = typer.Option(
        False,
        "--store-credentials",
        help="Ask for the secrets now and store them encrypted with "
        "DISPATCH_SOCIAL__CREDENTIALS_KEY.",
    ),
    token_expires_in_days: int | None = typer.Option(
        None,
        "--token-expires-in-days",
        help="LinkedIn: days until the access token expires, so it is refreshed in time.",
    ),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Add an account. Without credentials (embedded mode) its posts go to the outbox folder."""
    settings = settings_or_exit()
    if network not in accounts.CREDENTIAL_FIELDS:
        fail(f"unknown network {network!r} (mastodon, bluesky or linkedin)")
    if not (credentials_env or store_credentials) and settings.app.mode != "embedded":
        fail("give --credentials-env PREFIX or --store-credentials: production posts for real")
    secrets = _ask_secrets(network) if store_credentials else None
    expires = (
        utcnow() + timedelta(days=token_expires_in_days)
        if token_expires_in_days is not None
        else None
    )
    try:
        with session_scope() as session:
            account = service.add_account(
                session,
                settings,
                service.AccountSpec(
                    network=network,
                    name=name,
                    base_url=url,
                    handle=handle,
                    mode=mode,
                    delay_minutes=delay,
                    language=language,
                    topic_slugs=topic,
                    credentials_env=credentials_env or None,
                    credentials=secrets,
                    token_expires_at=expires,
                ),
            )
            row = service.account_as_dict(account, settings)
    except service.SocialError as err:
        fail(str(err))
    if credentials_env:
        names = accounts.env_names(accounts.check_env_prefix(credentials_env), network)
        unset = [v for k, v in names.items() if k in accounts.REQUIRED_FIELDS[network]]
        unset = [v for v in unset if not os.environ.get(v)]
        if unset and not secrets:
            typer.secho(
                f"Note: {', '.join(unset)} is not set here; set it where the worker runs.",
                err=True,
                fg="yellow",
            )
    if json_:
        print_json(row)
        return
    typer.echo(f"Account {row['id']} added: {network} {row['name']} → {row['publishes_to']}")
    if row["publishes_to"] == "outbox":
        typer.echo(f"No credentials: its posts are written to {settings.social_outbox_dir}")


def _ask_secrets(network: str) -> dict[str, str]:
    secrets = {}
    for field in accounts.CREDENTIAL_FIELDS[network]:
        required = field in accounts.REQUIRED_FIELDS[network]
        label = field.replace("_", " ") + ("" if required else " (optional)")
        value = typer.prompt(
            label, hide_input=True, default=None if required else "", show_default=False, err=True
        )
        if value:
            secrets[field] = str(value)
    return secrets


@accounts_app.command("list")
@requires(Permission.READ)
def accounts_list(json_: bool = typer.Option(False, "--json")) -> None:
    """Accounts, where their posts go and where their credentials come from (never values)."""
    settings = settings_or_exit()
    with session_scope() as session:
        rows = [service.account_as_dict(a, settings) for a in service.list_accounts(session)]
    if json_:
        print_json(rows)
        return
    if not rows:
        typer.echo("No accounts yet: dispatch social accounts add --network mastodon …")
    for row in rows:
        state = "" if row["enabled"] else "  (disabled)"
        topics = ", ".join(row["topics"]) or "all topics"
        delay = f" +{row['delay_minutes']} min" if row["delay_minutes"] else ""
        typer.echo(
            f"{row['id']:>4}  {row['network']:<9}{row['name']}  [{topics}]  {row['mode']}{delay}"
            f"  → {row['publishes_to']}  credentials: {row['credentials']}{state}"
        )


@accounts_app.command("disable")
@requires(Permission.SOCIAL_APPROVE)
def accounts_disable(account_id: int) -> None:
    """Stop preparing and publishing posts for an account (its queue waits)."""
    _set_enabled(account_id, enabled=False)


@accounts_app.command("enable")
@requires(Permission.SOCIAL_APPROVE)
def accounts_enable(account_id: int) -> None:
    """Resume an account: its due posts go out at the next tick."""
    _set_enabled(account_id, enabled=True)


def _set_enabled(account_id: int, *, enabled: bool) -> None:
    settings_or_exit()
    try:
        with session_scope() as session:
            account = service.set_account_enabled(session, account_id, enabled=enabled)
            name = account.name
    except service.SocialError as err:
        fail(str(err))
    typer.echo(f"Account {account_id} ({name}) {'enabled' if enabled else 'disabled'}.")


# --- posts --------------------------------------------------------------------------------


@posts_app.command("list")
@requires(Permission.READ)
def posts_list(
    status: str | None = typer.Option(None, "--status", help="e.g. awaiting_approval, failed"),
    account: int | None = typer.Option(None, "--account"),
    limit: int = typer.Option(200, "--limit"),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Posts, newest first, with their status, link when published and error when failed."""
    settings_or_exit()
    with session_scope() as session:
        rows = [
            service.post_as_dict(p)
            for p in service.list_posts(session, status=status, account_id=account, limit=limit)
        ]
    if json_:
        print_json(rows)
        return
    if not rows:
        typer.echo("No posts.")
    for row in rows:
        first = row["text"].split("\n", 1)[0][:60]
        detail = row["remote_url"] or local(row["scheduled_at"])
        typer.echo(
            f"{row['id']:>5}  {row['status']:<17} {row['network']:<9}{row['account']}  "
            f"{first}  {detail}"
        )
        if row["last_error"]:
            typer.echo(f"       ! {row['last_error']}")


@posts_app.command("show")
@requires(Permission.READ)
def posts_show(post_id: int, json_: bool = typer.Option(False, "--json")) -> None:
    """One post in full."""
    settings_or_exit()
    try:
        with session_scope() as session:
            row = service.post_as_dict(service.get_post(session, post_id))
    except service.SocialError as err:
        fail(str(err))
    if json_:
        print_json(row)
        return
    typer.echo(f"Post {row['id']} — {row['status']} — {row['network']} {row['account']}")
    typer.echo(f"{row['length']}/{row['limit']} as {row['network']} counts")
    for key in ("scheduled_at", "published_at", "remote_url", "last_error", "approved_by"):
        if row[key]:
            value = local(row[key]) if key.endswith("_at") else row[key]
            typer.echo(f"{key.replace('_', ' ')}: {value}")
    typer.echo("")
    typer.echo(row["text"])


@posts_app.command("edit")
@requires(Permission.SOCIAL_PREPARE)
def posts_edit(
    post_id: int, text: str = typer.Option(..., "--text", help="The whole new text.")
) -> None:
    """Replace a post's text; refused if the network would not accept it."""
    settings = settings_or_exit()
    try:
        with session_scope() as session:
            row = service.post_as_dict(service.edit_post(session, post_id, text, settings))
    except service.SocialError as err:
        fail(str(err))
    typer.echo(f"Post {post_id} updated ({row['length']}/{row['limit']}).")


@posts_app.command("approve")
@requires(Permission.SOCIAL_APPROVE)
def posts_approve(post_id: int, by: str = typer.Option("", "--by")) -> None:
    """Approve a post: it goes out at its scheduled time, or at the next tick."""
    settings_or_exit()
    try:
        with session_scope() as session:
            post = service.approve_post(session, post_id, by=by or _staff())
            when = post.scheduled_at
    except service.SocialError as err:
        fail(str(err))
    typer.echo(
        f"Post {post_id} approved; it goes out {f'at {local(when)}' if when else 'at once'}."
    )


@posts_app.command("schedule")
@requires(Permission.SOCIAL_APPROVE)
def posts_schedule(
    post_id: int,
    at: str = typer.Option(..., "--at", help='"2026-12-01 09:00" (local time unless an offset)'),
    by: str = typer.Option("", "--by"),
) -> None:
    """Publish at a given time (this approves the post)."""
    settings = settings_or_exit()
    when = _parse_time(at, settings)
    try:
        with session_scope() as session:
            service.schedule_post(session, post_id, at=when, by=by or _staff())
    except service.SocialError as err:
        fail(str(err))
    typer.echo(f"Post {post_id} scheduled for {local(when)}.")


def _parse_time(value: str, settings: Settings) -> datetime:
    try:
        return i18n.parse_local(value, timezone=settings.app.timezone)
    except ValueError as error:
        fail(str(error))


@posts_app.command("publish")
@requires(Permission.SOCIAL_APPROVE)
def posts_publish(post_id: int, by: str = typer.Option("", "--by")) -> None:
    """Publish now, in this process (approving it if needed), and say what happened."""
    settings = settings_or_exit()
    try:
        with session_scope() as session:
            post = service.get_post(session, post_id)
            if post.status != "scheduled":
                service.approve_post(session, post_id, by=by or _staff())
    except service.SocialError as err:
        fail(str(err))
    outcome = publishing.publish_post(post_id, settings=settings, scope=session_scope, force=True)
    if outcome.published:
        typer.echo(f"Post {post_id} published: {outcome.remote_url}")
        if outcome.message:
            typer.echo(f"Note: {outcome.message}")
        return
    fail(f"Post {post_id} is {outcome.status}: {outcome.message}")


@posts_app.command("cancel")
@requires(Permission.SOCIAL_APPROVE)
def posts_cancel(post_id: int) -> None:
    """Cancel a post that has not gone out."""
    settings_or_exit()
    try:
        with session_scope() as session:
            service.cancel_post(session, post_id)
    except service.SocialError as err:
        fail(str(err))
    typer.echo(f"Post {post_id} cancelled.")


@social_app.command("announce")
@requires(Permission.SOCIAL_APPROVE)
def announce(
    edition_id: int,
    account: list[int] = typer.Option([], "--account", help="Account id (default: all active)."),
    approve: bool = typer.Option(
        False, "--approve", help="Schedule at once, even if the account asks for approval."
    ),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Announce an edition ("the newsletter is out") on the social accounts."""
    settings = settings_or_exit()
    try:
        with session_scope() as session:
            posts = service.announce_edition(
                session, edition_id, settings, account_ids=account, approve=approve
            )
            rows = [service.post_as_dict(p) for p in posts]
    except service.SocialError as err:
        fail(str(err))
    if json_:
        print_json(rows)
        return
    if not rows:
        typer.echo(f"Edition {edition_id} was already announced on these accounts.")
    for row in rows:
        typer.echo(f"Post {row['id']} for {row['account']}: {row['status']}")
