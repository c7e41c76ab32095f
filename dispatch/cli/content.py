"""`dispatch sources|items|topics`: staff commands for content."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from dispatch import i18n
from dispatch.cli.support import fail, print_json, requires, settings_or_exit
from dispatch.content import items, sources, topics
from dispatch.content.errors import ContentError
from dispatch.db import session_scope
from dispatch.staff.roles import Permission

sources_app = typer.Typer(no_args_is_help=True, help="Feeds and sites that content comes from.")
items_app = typer.Typer(no_args_is_help=True, help="Content items: posts, events, picks.")
topics_app = typer.Typer(no_args_is_help=True, help="Topics subscribers choose from.")


@sources_app.command("add")
@requires(Permission.CONTENT)
def sources_add(
    url: str,
    kind: str = typer.Option(..., "--kind", help="rss, atom, wordpress or ical"),
    topic: list[str] = typer.Option([], "--topic", help="Default topic slug (repeatable)."),
    interval: int = typer.Option(15, "--interval", help="Minutes between polls."),
    name: str = typer.Option("", "--name"),
    announce_existing: bool = typer.Option(
        False, help="Also announce (alerts, social) the entries already online at the first poll."
    ),
    events_topic: str | None = typer.Option(
        None,
        "--events-topic",
        help="WordPress: the topic of the site's events (default: events, when it exists).",
    ),
) -> None:
    """Add a source; it is polled at once by the worker, then every --interval minutes.

    A WordPress site's events (The Events Calendar) are polled on their own, every hour by
    default (`dispatch sources set ID --events-interval MINUTES`).
    """
    settings_or_exit()
    try:
        with session_scope() as session:
            source = sources.add_source(
                session,
                url=url,
                kind=kind,
                topic_slugs=topic,
                interval_minutes=interval,
                name=name,
                announce_existing=announce_existing,
                events_topic=events_topic,
            )
            source_id = source.id
    except ContentError as exc:
        fail(str(exc))
    typer.echo(f"Source {source_id} added: {kind} {url}")


@sources_app.command("list")
@requires(Permission.READ)
def sources_list(json_: bool = typer.Option(False, "--json")) -> None:
    """Sources with their last result and error."""
    settings_or_exit()
    with session_scope() as session:
        rows = [sources.source_as_dict(s) for s in sources.list_sources(session)]
    if json_:
        print_json(rows)
        return
    if not rows:
        typer.echo("No sources yet: dispatch sources add URL --kind rss --topic blog")
    for row in rows:
        state = (
            (row["last_error"] and f"ERROR {row['last_error']}")
            or row["last_result"]
            or "never polled"
        )
        if not row["enabled"]:
            state = f"PAUSED — {state}"
        typer.echo(
            f"{row['id']:>4}  {row['kind']:<9} {row['url']}  [{', '.join(row['topics'])}]  "
            f"every {row['interval_minutes']} min  — {state}"
        )
        events = row.get("events")
        if events:
            result = (
                (events["last_error"] and f"ERROR {events['last_error']}")
                or events["last_result"]
                or "never polled"
            )
            typer.echo(
                f"      events [{events['topic'] or ', '.join(row['topics'])}]  "
                f"every {events['interval_minutes']} min  — {result}"
            )


@sources_app.command("set")
@requires(Permission.CONTENT)
def sources_set(
    source_id: int = typer.Argument(..., metavar="ID"),
    interval: int | None = typer.Option(None, "--interval", help="Minutes between polls."),
    events_topic: str | None = typer.Option(
        None, "--events-topic", help="WordPress: the topic of the site's events."
    ),
    events_interval: int | None = typer.Option(
        None, "--events-interval", help="WordPress: minutes between polls of the events."
    ),
    enabled: bool | None = typer.Option(None, "--enable/--disable", help="Poll it or not."),
) -> None:
    """Change a source: its schedule, its events topic and schedule, or whether it is polled."""
    settings_or_exit()
    if interval is None and events_topic is None and events_interval is None and enabled is None:
        fail("Nothing to change: give --interval, --events-topic, --events-interval or --disable.")
    try:
        with session_scope() as session:
            sources.configure_source(
                session,
                source_id,
                interval_minutes=interval,
                events_topic=events_topic,
                events_interval_minutes=events_interval,
                enabled=enabled,
            )
    except ContentError as exc:
        fail(str(exc))
    typer.echo(f"Source {source_id} updated.")


@sources_app.command("resume")
@requires(Permission.CONTENT)
def sources_resume(source_id: int) -> None:
    """Poll a paused source again (at once), e.g. once its feed is fixed."""
    settings_or_exit()
    try:
        with session_scope() as session:
            source = sources.resume_source(session, source_id)
            url = source.url
    except ContentError as exc:
        fail(str(exc))
    typer.echo(f"Source {source_id} resumed: {url} is polled at the next tick.")


@sources_app.command("map")
@requires(Permission.CONTENT)
def sources_map(
    category: str = typer.Argument(..., help="Upstream category or tag name, e.g. Évènements"),
    topic: str = typer.Option(..., "--topic"),
    source_id: int | None = typer.Option(None, "--source", help="Only for this source."),
) -> None:
    """Map an upstream category or tag to a topic for every new or edited item."""
    settings_or_exit()
    try:
        with session_scope() as session:
            topics.add_rule(session, match=category, topic_slug=topic, source_id=source_id)
    except ContentError as exc:
        fail(str(exc))
    typer.echo(f"Items in “{category}” now get the topic {topic}.")


@sources_app.command("poll")
@requires(Permission.CONTENT)
def sources_poll(
    ids: list[int] = typer.Argument(None, help="Source ids (default: the ones that are due)."),
    all_: bool = typer.Option(False, "--all", help="Every enabled source, due or not."),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Poll now, in this process, and print what came in."""
    from dispatch.content.polling import poll_source

    settings = settings_or_exit()
    with session_scope() as session:
        if ids or all_:
            wanted = ids or [s.id for s in sources.list_sources(session) if s.enabled]
            claimed = [i for i in wanted if sources.claim_source(session, i)]
        else:
            claimed = sources.claim_due_sources(session)
    reports = [poll_source(i, settings=settings, scope=session_scope) for i in claimed]
    if json_:
        print_json([r.as_dict() for r in reports])
    else:
        if not reports:
            typer.echo("Nothing to poll.")
        for report in reports:
            typer.echo(f"source {report.source_id}: {report.summary()}")
            for entry, reason in report.skipped:
                typer.echo(f"    skipped {entry}: {reason}")
    if any(r.status == "error" for r in reports):
        raise typer.Exit(1)


def _parse_since(value: str | None, timezone: str) -> datetime | None:
    if not value:
        return None
    try:
        return i18n.parse_local(value, timezone=timezone)
    except ValueError as error:
        fail(f"--since: {error}")


@items_app.command("list")
@requires(Permission.READ)
def items_list(
    since: str | None = typer.Option(None, "--since", help="YYYY-MM-DD"),
    topic: str | None = typer.Option(None, "--topic"),
    kind: str | None = typer.Option(None, "--kind", help="post, event or pick"),
    limit: int = typer.Option(50, "--limit"),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Published items, newest first (times in the configured timezone)."""
    settings = settings_or_exit()
    try:
        with session_scope() as session:
            rows = [
                items.item_as_dict(i)
                for i in items.list_items(
                    session,
                    since=_parse_since(since, settings.app.timezone),
                    topic=topic,
                    kind=kind,
                    limit=limit,
                )
            ]
    except ContentError as exc:
        fail(str(exc))
    if json_:
        print_json(rows)
        return
    for row in rows:
        when = _when(row, settings.app.timezone)
        tags = ", ".join(row["topics"])
        typer.echo(f"{row['id']:>5}  {row['kind']:<5} {when:<16}  {row['title']}  [{tags}]")


@items_app.command("show")
@requires(Permission.READ)
def items_show(item_id: int, json_: bool = typer.Option(False, "--json")) -> None:
    """One item, and every source that lists it (one post from a site's feed and its REST
    API is one item with both)."""
    settings = settings_or_exit()
    timezone = settings.app.timezone
    try:
        with session_scope() as session:
            row = items.item_as_dict(items.get_item(session, item_id))
    except ContentError as exc:
        fail(str(exc))
    if json_:
        print_json(row)
        return
    typer.echo(f"{row['id']}  {row['kind']}  {row['status']}  {_when(row, timezone)}")
    typer.echo(row["title"])
    typer.echo(row["url"])
    typer.echo(f"topics: {', '.join(row['topics'])}")
    typer.echo(f"sources ({len(row['sources'])}):")
    for seen in row["sources"]:
        listed = "lists it" if seen["status"] == "published" else "no longer lists it"
        first = i18n.staff_time(datetime.fromisoformat(seen["first_seen_at"]), timezone=timezone)
        last = i18n.staff_time(datetime.fromisoformat(seen["last_seen_at"]), timezone=timezone)
        typer.echo(
            f"  {seen['source_id']:>4}  {seen['kind']:<9} {seen['source_url']}  {listed}; "
            f"seen {first} → {last}; guid {seen['guid']}"
        )


def _when(row: dict[str, Any], timezone: str) -> str:
    """An event's whole span (all-day events as days, never a time); else when published."""
    if row["event_start"]:
        return i18n.staff_span(
            datetime.fromisoformat(row["event_start"]),
            datetime.fromisoformat(row["event_end"]) if row["event_end"] else None,
            all_day=row["all_day"],
            timezone=timezone,
        )
    if not row["published_at"]:
        return ""
    return i18n.staff_time(datetime.fromisoformat(row["published_at"]), timezone=timezone)


@items_app.command("add-pick")
@requires(Permission.CONTENT)
def items_add_pick(
    url: str = typer.Option(..., "--url"),
    title: str = typer.Option(..., "--title"),
    tag: str = typer.Option(..., "--tag", help="onaime, controverse, mustread…"),
    comment: str = typer.Option("", "--comment"),
) -> None:
    """Add a curated pick for the "What's up ?" stream."""
    settings_or_exit()
    try:
        with session_scope() as session:
            item = items.add_pick(session, url=url, title=title, tag=tag, comment=comment)
            item_id = item.id
    except ContentError as exc:
        fail(str(exc))
    typer.echo(f"Pick {item_id} added (#{tag.lstrip('#')}).")


@topics_app.command("list")
@requires(Permission.READ)
def topics_list(json_: bool = typer.Option(False, "--json")) -> None:
    settings_or_exit()
    with session_scope() as session:
        rows = [
            {"slug": t.slug, "name_fr": t.name_fr, "name_en": t.name_en, "hashtag": t.hashtag}
            for t in topics.list_topics(session)
        ]
    if json_:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['slug']:<14} {row['name_fr']} / {row['name_en']}  {row['hashtag']}")


@topics_app.command("add")
@requires(Permission.CONTENT)
def topics_add(
    slug: str,
    fr: str = typer.Option(..., "--fr", help="French name"),
    en: str = typer.Option(..., "--en", help="English name"),
    hashtag: str | None = typer.Option(None, "--hashtag"),
) -> None:
    settings_or_exit()
    try:
        with session_scope() as session:
            topics.add_topic(session, slug, name_fr=fr, name_en=en, hashtag=hashtag)
    except ContentError as exc:
        fail(str(exc))
    typer.echo(f"Topic {slug} added.")
