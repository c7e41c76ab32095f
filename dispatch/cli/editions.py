"""`dispatch editions`: compose, preview, test-send, schedule, send and watch editions."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from dispatch.cli import drafting
from dispatch.cli.support import fail, local, print_json, requires, settings_or_exit
from dispatch.staff.roles import Permission

editions_app = typer.Typer(no_args_is_help=True, help="Newsletters, alerts and digests.")

T = TypeVar("T")


def _in_session(action: Callable[[Any], T]) -> T:
    """Run `action(session)` in one unit of work; a DraftError becomes a clean failure."""
    from dispatch.db import session_scope
    from dispatch.editions.errors import DraftError

    try:
        with session_scope() as session:
            return action(session)
    except DraftError as error:
        fail(str(error))


@editions_app.command("new")
@requires(Permission.DRAFT)
def new(
    subject: str = typer.Option(..., "--subject", help="The email's subject line."),
    intro: Path | None = typer.Option(
        None, "--intro", help="A Markdown file: the editorial at the top.", dir_okay=False
    ),
    items: list[str] = typer.Option(
        [], "--items", help="Item ids in the order to show them (repeatable, or 3,1,2)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Take the items published since this date (2026-11-01)."
    ),
    kind: str = typer.Option(
        "newsletter",
        "--kind",
        help="newsletter, alert or event (an invitation with its calendar file).",
    ),
    topic: list[str] = typer.Option(
        [], "--topic", help="Only for subscribers of this topic (repeatable); default everyone."
    ),
    locale: str | None = typer.Option(
        None, "--locale", help="fr or en; default: each reader in their own language."
    ),
    preheader: str = typer.Option("", "--preheader", help="The line inboxes show after it."),
    send_whole: bool = typer.Option(
        False,
        "--send-whole",
        help="Send every item to everyone (by default each reader's copy leaves out the items"
        " they already received).",
    ),
    subject_en: str | None = drafting.SUBJECT_EN,
    preheader_en: str | None = drafting.PREHEADER_EN,
    intro_en: Path | None = drafting.INTRO_EN,
    heading: list[str] = drafting.HEADING,
    heading_en: list[str] = drafting.HEADING_EN,
) -> None:
    """Create a draft edition.

    Without --items: the items published since the last newsletter (or --since), posts
    first, then upcoming events, then picks grouped by tag. The text is French (or
    --locale); with --subject-en (and --intro-en, --preheader-en) English readers get the
    English version, otherwise the whole French one.
    """
    from dispatch.editions import choosing, drafts

    settings = settings_or_exit()
    if items and since:
        fail("Give either --items or --since, not both.")
    intro_text = drafting.read_intro(intro) or ""
    english = drafting.english(subject_en, preheader_en, intro_en)
    chosen_ids = drafting.ids(items)
    titles = drafting.headings(heading, heading_en)

    def action(session: Any) -> tuple[int, int]:
        if chosen_ids:
            chosen = choosing.items_by_ids(session, chosen_ids)
        else:
            start = drafts.parse_since(since, timezone=settings.app.timezone) if since else None
            chosen = choosing.default_items(session, since=start, topics=topic)
        edition = drafts.create_edition(
            session,
            subject=subject,
            intro=intro_text,
            preheader=preheader,
            items=chosen,
            kind=kind,
            topics=topic,
            locale=locale,
            send_whole=send_whole,
            translations=english,
            headings=titles,
        )
        return edition.id, len(chosen)

    edition_id, count = _in_session(action)
    typer.echo(f"Edition {edition_id} created (draft, {count} items).")
    typer.echo(
        f"Next: dispatch editions preview {edition_id} --out DIR, "
        f"dispatch editions test-send {edition_id} --to YOU@…, "
        f'dispatch editions schedule {edition_id} --at "YYYY-MM-DD HH:MM".'
    )


@editions_app.command("list")
@requires(Permission.READ)
def list_(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    kind: str | None = typer.Option(None, "--kind", help="newsletter, alert, digest or event."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
) -> None:
    """Editions, newest first."""
    from dispatch.editions import drafts

    settings_or_exit()
    rows = _in_session(
        lambda session: [
            drafts.edition_summary(e) for e in drafts.list_editions(session, kind=kind, limit=limit)
        ]
    )
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo('No editions yet: dispatch editions new --subject "…"')
    for row in rows:
        when = f" at {local(row['send_at'])}" if row["send_at"] else ""
        typer.echo(
            f"{row['id']:>5}  {row['kind']:<10} {row['status']:<9}{when}  "
            f"{row['items']} items  {row['subject']}"
        )


@editions_app.command("show")
@requires(Permission.READ)
def show(
    edition_id: int = typer.Argument(..., metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """One edition: subject, audience, status, intro and items in order."""
    from dispatch.delivery import counts
    from dispatch.editions import drafts

    settings_or_exit()

    def action(session: Any) -> dict[str, Any]:
        data = drafts.edition_as_dict(drafts.get_edition(session, edition_id))
        readers = counts.item_counts(session, edition_id)
        for item in data["items"]:
            item["readers"] = readers.get(item["id"], 0)
        return data

    data = _in_session(action)
    if as_json:
        print_json(data)
        return
    typer.echo(f"Edition {data['id']} ({data['kind']}), {data['status']}: {data['subject']}")
    if data["status_reason"]:
        typer.echo(f"  {data['status_reason']}")
    audience = data["audience"]
    topics = ", ".join(audience.get("topics") or []) or "every topic"
    frequency = audience.get("frequency") or "any frequency"
    language = data["locale"] or "each reader's own"
    typer.echo(f"Audience: {topics}; {frequency}; language: {language}")
    if data["send_at"]:
        typer.echo(f"Send at: {local(data['send_at'])}")
    if data["preheader"]:
        typer.echo(f"Preheader: {data['preheader']}")
    if data["intro"]:
        typer.echo("Intro:")
        for line in data["intro"].splitlines():
            typer.echo(f"  {line}")
    for language, texts in data["translations"].items():
        typer.echo(f"In {language}: {texts['subject']}")
        if texts["intro"]:
            for line in texts["intro"].splitlines():
                typer.echo(f"  {line}")
    if data["kind"] in ("newsletter", "alert", "digest"):
        typer.echo(
            "Every item to everyone."
            if data["send_whole"]
            else "Once per reader: each copy leaves out the items that reader already has."
        )
    started = data["status"] not in ("draft", "scheduled")
    typer.echo(f"Items ({len(data['items'])}), readers {'who got' if started else 'to get'} each:")
    for item in data["items"]:
        if item.get("heading"):
            titles = " / ".join(f"{lang}: {text}" for lang, text in item["heading"].items())
            typer.echo(f"  — section — {titles}")
        typer.echo(
            f"  {item['position'] + 1:>2}. [{item['id']}] {item['kind']:<5} "
            f"{item['readers']:>7}  {item['title']}"
        )


@editions_app.command("edit")
@requires(Permission.DRAFT)
def edit(
    edition_id: int = typer.Argument(..., metavar="ID"),
    subject: str | None = typer.Option(None, "--subject"),
    intro: Path | None = typer.Option(None, "--intro", help="A Markdown file.", dir_okay=False),
    items: list[str] = typer.Option(
        [], "--items", help="The item ids in their new order (replaces the list)."
    ),
    preheader: str | None = typer.Option(None, "--preheader"),
    subject_en: str | None = drafting.SUBJECT_EN,
    preheader_en: str | None = drafting.PREHEADER_EN,
    intro_en: Path | None = drafting.INTRO_EN,
    no_english: bool = typer.Option(
        False, "--no-english", help="Remove the English version (English readers get French)."
    ),
    send_whole: bool | None = typer.Option(
        None,
        "--send-whole/--once-per-reader",
        help="Every item to everyone, or leave out what each reader already received.",
    ),
    topic: list[str] = typer.Option(
        [], "--topic", help="Only for subscribers of these topics (repeatable; replaces them)."
    ),
    every_topic: bool = typer.Option(
        False, "--every-topic", help="For every subscriber, whatever their topics."
    ),
    heading: list[str] = drafting.HEADING,
    heading_en: list[str] = drafting.HEADING_EN,
) -> None:
    """Change a draft or scheduled edition: subject, intro, preheader, items and their order,
    its readers' topics, and its English version (--subject-en, --preheader-en, --intro-en;
    --no-english)."""
    from dispatch.editions import drafts

    settings_or_exit()
    intro_text = drafting.read_intro(intro)
    chosen_ids = drafting.ids(items) if items else None
    english: dict[str, Any] | None = drafting.english(subject_en, preheader_en, intro_en)
    if no_english:
        if english:
            fail("Give either --no-english or an English text, not both.")
        english = {"en": None}
    if topic and every_topic:
        fail("Give either --topic or --every-topic, not both.")
    topics: list[str] | None = [] if every_topic else (list(topic) or None)
    titles = drafting.headings(heading, heading_en)
    texts = (subject, intro_text, preheader, chosen_ids, english, send_whole, topics, titles)
    if all(value is None for value in texts):
        fail(
            "Nothing to change: give --subject, --intro, --preheader, --items, --topic, "
            "--send-whole or an English text (--subject-en, --intro-en, --preheader-en)."
        )
    _in_session(
        lambda session: drafts.update_edition(
            session,
            edition_id,
            subject=subject,
            intro=intro_text,
            preheader=preheader,
            item_ids=chosen_ids,
            send_whole=send_whole,
            translations=english,
            topics=topics,
            headings=titles,
        )
    )
    typer.echo(f"Edition {edition_id} updated.")


@editions_app.command("preview")
@requires(Permission.READ)
def preview(
    edition_id: int = typer.Argument(..., metavar="ID"),
    out: Path = typer.Option(..., "--out", help="Folder to write the files into.", file_okay=False),
    locale: str | None = typer.Option(None, "--locale", help="fr or en."),
    as_email: str | None = typer.Option(
        None, "--as", help="Preview as this subscriber (their topics and signed links)."
    ),
) -> None:
    """Write edition-ID.html, .txt and .eml as a sample subscriber (or --as one) receives it."""
    from dispatch.delivery import proofs

    settings = settings_or_exit()
    result = _in_session(
        lambda session: proofs.preview(
            session, settings, edition_id, locale=locale, as_email=as_email
        )
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"edition-{edition_id}-{result.locale}"
        paths = (stem.with_suffix(".html"), stem.with_suffix(".txt"), stem.with_suffix(".eml"))
        paths[0].write_text(result.rendered.html, encoding="utf-8")
        paths[1].write_text(result.rendered.text, encoding="utf-8")
        paths[2].write_bytes(result.eml)
    except OSError as error:
        fail(f"Cannot write into {out}: {error.strerror or error}.")
    typer.echo(f"Subject: {result.subject}")
    typer.echo(f"As: {result.recipient.email}")
    for path in paths:
        typer.echo(f"Wrote {path}")


@editions_app.command("test-send")
@requires(Permission.DRAFT)
def send_a_test(
    edition_id: int = typer.Argument(..., metavar="ID"),
    to: list[str] = typer.Option(..., "--to", help="Address to send the test to (repeatable)."),
    locale: str | None = typer.Option(
        None, "--locale", help="fr or en: as a reader of that language gets it."
    ),
) -> None:
    """Send the edition to these addresses, marked as a test, through the mail path.

    Subscribers' send records are not touched."""
    from dispatch.delivery import proofs

    settings = settings_or_exit()
    results = _in_session(
        lambda session: proofs.send_test(session, settings, edition_id, to, locale=locale)
    )
    failed = 0
    for result in results:
        if result.ok:
            typer.echo(f"Test sent to {result.address} ({result.detail}).")
        else:
            failed += 1
            typer.secho(f"Test to {result.address} not sent: {result.detail}", err=True, fg="red")
    if failed:
        raise typer.Exit(1)


# --- the send controls: schedule, send, pause, resume, cancel, status -----------------------


def _run(action: Callable[[Any], T]) -> T:
    from dispatch.db import session_scope
    from dispatch.editions.errors import EditionStateError

    try:
        with session_scope() as session:
            return action(session)
    except EditionStateError as error:
        fail(str(error))


def _ring_batches(session: Any, edition_id: int, count: int) -> None:
    """Start `count` batch tasks once the command commits; beat's tick would otherwise."""
    from dispatch.doorbell import ring_after_commit

    for _ in range(count):
        ring_after_commit(session, "delivery.send_batch", edition_id)


@editions_app.command("schedule")
@requires(Permission.SEND)
def schedule(
    edition_id: int = typer.Argument(..., metavar="ID"),
    at: str = typer.Option(
        ..., "--at", help='"2026-12-01 09:00" (Europe/Paris unless an offset is given)'
    ),
) -> None:
    """Schedule an edition: beat starts it at that time."""
    from dispatch.editions import schedule as scheduling

    settings = settings_or_exit()
    zone = settings.app.timezone

    def action(session: Any) -> str:
        send_at = scheduling.parse_send_at(at, timezone=zone)
        edition = scheduling.schedule_edition(session, edition_id, send_at=send_at)
        return f"Edition {edition.id} scheduled for {local(send_at, zone)} ({zone})."

    typer.echo(_run(action))


@editions_app.command("send")
@requires(Permission.SEND)
def send(
    edition_id: int = typer.Argument(..., metavar="ID"),
    now: bool = typer.Option(False, "--now", help="Start sending at once."),
    wait: bool = typer.Option(False, "--wait", help="Show progress until the send ends."),
) -> None:
    """Send an edition now (`--now`); `--wait` follows its progress."""
    from dispatch.delivery import controls

    if not now:
        fail("Say `--now` to send at once, or use `dispatch editions schedule ID --at …`.")
    settings = settings_or_exit()

    def action(session: Any) -> tuple[int, bool]:
        from dispatch.doorbell import ring_after_commit

        result = controls.send_now(session, edition_id, settings=settings)
        _ring_batches(session, edition_id, result.batches)
        if result.audience_pending:
            ring_after_commit(session, "delivery.build_audience", edition_id)
        return result.recipients, result.audience_pending

    recipients, pending = _run(action)
    if pending:
        typer.echo(
            f"Edition {edition_id}: sending to the first {recipients} recipients while the "
            "rest of the audience is written."
        )
    else:
        typer.echo(f"Edition {edition_id}: sending to {recipients} recipients.")
    if wait:
        _wait(edition_id)


def _status(edition_id: int) -> dict[str, Any]:
    from dispatch.delivery import controls

    result: dict[str, Any] = _run(lambda session: controls.status(session, edition_id))
    return result


def _wait(edition_id: int) -> None:
    final = ("sent", "cancelled", "paused")
    if sys.stdout.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as progress:
            state = _status(edition_id)
            task = progress.add_task(f"Edition {edition_id}", total=state["recipients"] or 1)
            while True:
                progress.update(task, completed=state["done"], total=state["recipients"] or 1)
                if state["status"] in final:
                    break
                time.sleep(0.5)
                state = _status(edition_id)
    else:
        while (state := _status(edition_id))["status"] not in final:
            time.sleep(2)
            typer.echo(f"{state['done']}/{state['recipients']} done, {state['rate_per_second']}/s")
    typer.echo(_summary(state))
    if state["status"] != "sent":
        raise typer.Exit(1)


def _summary(state: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in state["counts"].items() if v)
    line = f"Edition {state['id']} is {state['status']}: {counts or 'no recipients'}."
    if state.get("status_reason"):
        line += f"\n{state['status_reason']}"
    return line


@editions_app.command("pause")
@requires(Permission.SEND)
def pause(edition_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Pause a sending or scheduled edition."""
    from dispatch.delivery import controls

    _run(lambda session: controls.pause(session, edition_id))
    typer.echo(f"Edition {edition_id} paused.")


@editions_app.command("resume")
@requires(Permission.SEND)
def resume(edition_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Resume a paused edition."""
    from dispatch.delivery import controls

    def action(session: Any) -> None:
        _ring_batches(session, edition_id, controls.resume(session, edition_id))

    _run(action)
    typer.echo(f"Edition {edition_id} resumed.")


@editions_app.command("cancel")
@requires(Permission.SEND)
def cancel(edition_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Cancel an edition: whatever has not been sent is not sent."""
    from dispatch.delivery import controls

    _run(lambda session: controls.cancel(session, edition_id))
    typer.echo(f"Edition {edition_id} cancelled.")


@editions_app.command("status")
@requires(Permission.READ)
def status(
    edition_id: int = typer.Argument(..., metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Counts by status, current rate and estimated end of a send."""
    state = _status(edition_id)
    if as_json:
        typer.echo(json.dumps(state, ensure_ascii=False, indent=2))
        return
    typer.echo(_summary(state))
    if state["status"] == "sending":
        typer.echo(
            f"Rate: {state['rate_per_second']} messages/s; "
            f"estimated end: {local(state['estimated_end']) or 'unknown'}"
        )
    if not state["audience_complete"] and state["status"] in ("sending", "paused"):
        typer.echo("The audience is still being written: more recipients are coming.")
    elif state["status"] == "scheduled":
        typer.echo(f"Scheduled for {local(state['send_at'])}.")


@editions_app.command("links")
@requires(Permission.READ)
def links_(
    edition_id: int = typer.Argument(..., metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Clicks per link of an edition, counted in aggregate (with mail.link_counts on)."""
    from dispatch.editions import drafts, links

    settings = settings_or_exit()

    def counts(session: Any) -> list[tuple[str, int]]:
        drafts.get_edition(session, edition_id)
        return links.link_counts(session, edition_id)

    rows = _in_session(counts)
    if as_json:
        print_json([{"url": url, "clicks": clicks} for url, clicks in rows])
        return
    if not settings.mail.link_counts:
        typer.echo("Link counts are off (mail.link_counts = false): links are not counted.")
    elif not rows:
        typer.echo(f"No link of edition {edition_id} was counted: it has not been sent yet.")
    for url, clicks in rows:
        typer.echo(f"{clicks:>7}  {url}")
