"""`dispatch subscribers`: staff commands for subscribers, import/export and GDPR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from sqlalchemy import func, select

from dispatch.audience import importexport, receipts, records, service
from dispatch.audience.addresses import InvalidInputError
from dispatch.audience.consent import Origin
from dispatch.audience.models import SUBSCRIBER_STATUSES, Subscriber
from dispatch.cli.support import fail, local, print_json, requires, settings_or_exit
from dispatch.config import Settings
from dispatch.db import session_scope
from dispatch.staff.roles import Permission

subscribers_app = typer.Typer(no_args_is_help=True, help="Subscribers, import/export, GDPR.")

STAFF = "staff command line"


@subscribers_app.command("add")
@requires(Permission.SUBSCRIBERS)
def add(
    email: str,
    name: str = typer.Option("", "--name"),
    language: str = typer.Option("fr", "--language", help="fr or en"),
    topics: str = typer.Option("", "--topics", help="e.g. 'blog:weekly;events:immediately'"),
    consent_source: str = typer.Option(
        "", "--consent-source", help="Where the person agreed (required unless --confirm)."
    ),
    confirm: bool = typer.Option(
        False, "--confirm", help="Send a confirmation email; active only once they click."
    ),
    welcome: bool = typer.Option(
        False, "--welcome", help="Send them the welcome email (none unless asked)."
    ),
) -> None:
    """Add one subscriber: active with --consent-source, or pending with --confirm."""
    settings = settings_or_exit()
    try:
        wanted = service.SubscriptionRequest(
            email=email,
            name=name,
            locale=language,
            topics=service.parse_topics(topics),
            smtputf8=_relay_takes_utf8(settings, email),
        )
        with session_scope() as session:
            if confirm:
                mail = service.request_subscription(session, settings, wanted, Origin(STAFF))
            else:
                subscriber = records.add_subscriber(
                    session, settings, wanted, Origin(consent_source.strip()), welcome=welcome
                )
                message = f"{subscriber.email} added (active, subscriber {subscriber.id})."
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc}")
    except service.SuppressedAddressError as exc:
        fail(str(exc))
    if confirm:
        message = _send_requested(settings, mail, email)
    typer.echo(message)


def _relay_takes_utf8(settings: Settings, text: str) -> bool:
    """Whether the mail path takes non-ASCII local parts; the relay is only asked when
    `text` (an address, a whole CSV) is not plain ASCII."""
    if text.isascii():
        return False
    from dispatch.delivery.smtp import relay_offers_smtputf8

    return relay_offers_smtputf8(settings)


def _send_requested(settings: Settings, mail: service.MailRequest, email: str) -> str:
    """Send the email a staff request asked for, now and from this process, once the
    request is committed: the command says what happened, not what might."""
    from dispatch.delivery import transactional
    from dispatch.delivery.transport import for_settings

    if mail.mail is None or mail.subscriber_id is None:
        return f"{email}: too many emails sent to this address lately; try later."
    subscriber_id = mail.subscriber_id
    with session_scope() as session:
        prepared = transactional.prepare(session, settings, mail.mail, subscriber_id)
    if prepared is not None:
        outcome = transactional.deliver(settings, prepared, for_settings(settings))
        if not outcome.ok:
            fail(f"The email was not sent: {outcome.summary()}")
        with session_scope() as session:
            transactional.record_sent(session, prepared)
    if mail.mail == "link":
        return f"{email} is already subscribed; their preferences link was sent."
    return f"{email}: confirmation email sent; active once they confirm."


@subscribers_app.command("show")
@requires(Permission.READ)
def show(email: str, json_: bool = typer.Option(False, "--json")) -> None:
    """One subscriber: status, topics, dates."""
    settings_or_exit()
    with session_scope() as session:
        subscriber = service.find_by_email(session, email)
        if subscriber is None:
            fail(f"No subscriber with the address {email}.")
        record = records.subscriber_record(subscriber)
        received = receipts.received_by(session, subscriber.id)
    if json_:
        print_json({**record, "received": received})
        return
    for key, value in record.items():
        if key == "topics":
            value = service.format_topics(value) or (
                "(none: the letter only)" if record["letter"] else "(none, and no letter)"
            )
        elif key.endswith(("_at", "_until")):
            value = local(value)
        typer.echo(f"{key:>20}: {'' if value is None else value}")
    typer.echo(f"{'received':>20}: {len(received)} item(s)")
    for got in received[-10:]:
        typer.echo(f"{'':>22}{local(got['received_at'])}  {got['channel']:<10} {got['title']}")


@subscribers_app.command("list")
@requires(Permission.READ)
def list_(
    status: str = typer.Option("", "--status", help="/".join(SUBSCRIBER_STATUSES)),
    limit: int = typer.Option(100, "--limit", min=1),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Subscribers, newest first, with a count per status."""
    settings_or_exit()
    if status and status not in SUBSCRIBER_STATUSES:
        fail(f"--status must be one of {', '.join(SUBSCRIBER_STATUSES)}")
    with session_scope() as session:
        records = importexport.list_records(session, status=status or None)
        rows = session.execute(
            select(Subscriber.status, func.count()).group_by(Subscriber.status)
        ).all()
        counts: dict[str, int] = {str(row[0]): int(row[1]) for row in rows}
    records = list(reversed(records))[:limit]
    if json_:
        print_json(records)
        return
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in SUBSCRIBER_STATUSES)
    typer.echo(f"Subscribers: {summary}")
    for record in records:
        topics = service.format_topics(record["topics"]) or "-"
        typer.echo(
            f"{record['id']:>6}  {record['status']:<12} {record['language']}  "
            f"{record['email']:<40} {topics}"
        )


@subscribers_app.command("import")
@requires(Permission.SUBSCRIBERS)
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    consent_source: str = typer.Option(
        ..., "--consent-source", help="Where these people agreed, e.g. 'AG 2024 sign-up sheet'."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check the file, change nothing."),
    welcome: bool = typer.Option(
        False, "--welcome", help="Send each imported person the welcome email (none unless asked)."
    ),
) -> None:
    """Import a CSV (email, name, language, topics): every row, or none if any is invalid.

    Imported people get no email unless --welcome; their consent is recorded as imported."""
    settings = settings_or_exit()
    if file.stat().st_size > importexport.MAX_FILE_BYTES:
        fail(f"Import refused: {importexport.too_large(file.stat().st_size)}.")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text: save it as 'CSV UTF-8' and try again.")
    smtputf8 = _relay_takes_utf8(settings, text)
    with session_scope() as session:
        report = importexport.import_subscribers(
            session,
            settings,
            text,
            consent_source=consent_source,
            dry_run=dry_run,
            smtputf8=smtputf8,
            welcome=welcome,
        )
        if not report.ok:
            session.rollback()
    for note in report.skipped:
        typer.echo(f"skipped {note}")
    if not report.ok:
        for note in report.errors:
            typer.secho(f"error   {note}", err=True, fg="red")
        fail(f"Import refused: {len(report.errors)} invalid row(s); nothing was imported.")
    verb = "would be imported" if dry_run else "imported"
    welcomed = "each welcomed by email" if welcome else "no email sent"
    typer.echo(
        f"{len(report.added)} subscriber(s) {verb} ({welcomed}), {len(report.skipped)} skipped."
    )


@subscribers_app.command("export")
@requires(Permission.SUBSCRIBERS)
def export(
    email: str = typer.Argument(
        "", help="One person's data and consent history (GDPR access request), as JSON."
    ),
    as_json: bool = typer.Option(False, "--json", help="All subscribers as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="All subscribers as CSV (the default)."),
    status: str = typer.Option("", "--status", help="Only this status."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here, not stdout."),
) -> None:
    """Export everyone (CSV or JSON), or everything about one person with EMAIL."""
    settings = settings_or_exit()
    if as_json and as_csv:
        fail("Choose --csv or --json, not both.")
    with session_scope() as session:
        if email:
            data = records.export_person(session, settings, email)
            if data is None:
                fail(f"Nothing is held about {email}.")
            text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        else:
            everyone = importexport.export_records(session, status=status or None)
            if as_json:
                text = json.dumps(everyone, ensure_ascii=False, indent=2) + "\n"
            else:
                import io

                buffer = io.StringIO()
                importexport.write_csv(everyone, buffer)
                text = buffer.getvalue()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Written to {output}.")


@subscribers_app.command("erase")
@requires(Permission.SUBSCRIBERS)
def erase(
    email: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """GDPR erasure: delete the person and their history; keep only a keyed hash (suppression)."""
    settings = settings_or_exit()
    if not yes:
        typer.confirm(
            f"Erase everything about {email}? It cannot be undone, and the address will never "
            "be mailed again unless the person subscribes anew",
            abort=True,
        )
    with session_scope() as session:
        existed = records.erase(session, settings, email, Origin(STAFF))
    if existed:
        typer.echo(f"{email} erased; only a keyed hash remains, so it is never mailed again.")
    else:
        typer.echo(f"No subscriber with the address {email}; it is now suppressed all the same.")


@subscribers_app.command("purge-inactive")
@requires(Permission.SUBSCRIBERS)
def purge_inactive(
    years: int = typer.Option(3, "--years", min=1, help="No sign of life for this long."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show who would be asked and who erased; change nothing."
    ),
) -> None:
    """Ask readers with no sign of life in --years years whether they stay (one email with a
    « Je reste abonné·e » button); erase those still silent 30 days after it (CNIL: 3 years).

    Run it again (monthly, say): each run asks the newly inactive and erases the ones whose
    30 days are over. People who cannot be mailed any more are erased without being asked."""
    settings = settings_or_exit()
    with session_scope() as session:
        plan = records.purge_inactive(
            session,
            settings,
            years=years,
            origin=Origin(f"{STAFF}: purge-inactive --years {years}"),
            dry_run=dry_run,
        )
        ask = [(s.id, s.email) for s in plan.ask]
        erase = [(s.id, s.email, s.status) for s in plan.erase]
        waiting = [(s.id, s.email, s.repermission_sent_at) for s in plan.waiting]
    would = "would be " if dry_run else ""
    for subscriber_id, email in ask:
        typer.echo(f"ask    {subscriber_id:>6}  {email}")
    for subscriber_id, email, status in erase:
        typer.echo(f"erase  {subscriber_id:>6}  {email}  ({status})")
    for subscriber_id, email, sent in waiting:
        when = f"asked {local(sent)}" if sent else "email not sent yet"
        typer.echo(f"wait   {subscriber_id:>6}  {email}  ({when})")
    typer.echo(
        f"No sign of life for {years} year(s): {len(ask)} {would}asked whether they stay, "
        f"{len(erase)} {would}erased, {len(waiting)} waiting for their answer."
    )


@subscribers_app.command("expire-pending")
@requires(Permission.SUBSCRIBERS)
def expire_pending() -> None:
    """Drop unconfirmed subscription requests older than the confirm link's lifetime."""
    settings = settings_or_exit()
    with session_scope() as session:
        count = records.expire_pending(session, settings)
    typer.echo(f"{count} unconfirmed request(s) expired.")
