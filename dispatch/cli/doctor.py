"""`dispatch doctor`: checks a deployment and says what to fix.

Database and broker reachable, migrations current, exactly one beat and live workers (their
heartbeats), the SMTP relay's TLS and login (without sending), the DKIM records published for
each selector (the DNS answer shown), and SPF and DMARC advice for the sending domains. DNS
checks are skipped offline (`--offline`, or when no resolver answers). Exits 1 when a check
fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import typer

from dispatch.cli.support import settings_or_exit
from dispatch.config import Settings

#: A heartbeat older than this means the process is gone.
STALE = timedelta(minutes=3)
#: The SPF include each provider documents.
SPF_INCLUDES = {
    "ses": "include:amazonses.com",
    "postmark": "include:spf.mtasv.net",
    "mailgun": "include:mailgun.org",
    "sendgrid": "include:sendgrid.net",
    "brevo": "include:spf.brevo.com",
}


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    fix: str = ""


class Offline(Exception):  # noqa: N818 - a state, not an error to report
    """No DNS resolver answers: the DNS checks are skipped."""


Lookup = Callable[[str], list[str]]


def txt_lookup(nameserver: str | None, timeout: float = 5.0) -> Lookup:
    """TXT records of a name, each record's strings joined; [] when the name has none."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        host, _, port = nameserver.partition(":")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = timeout

    def lookup(name: str) -> list[str]:
        try:
            answer = resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as error:
            raise Offline(str(error)) from error
        return [b"".join(record.strings).decode(errors="replace") for record in answer]

    return lookup


def check_database(settings: Settings) -> list[Check]:
    from dispatch import health, migrate
    from dispatch.db import default_engine, session_scope, utcnow

    engine = default_engine()
    database = health.check_database(engine)
    if not database["ok"]:
        return [
            Check(
                "database",
                "fail",
                database["error"],
                "start the database or fix database.url (DISPATCH_DATABASE__URL)",
            )
        ]
    checks = [Check("database", "ok", f"{engine.dialect.name} answers")]
    current, heads = migrate.revisions(engine)
    if current == heads:
        checks.append(Check("migrations", "ok", f"at {', '.join(sorted(heads))}"))
    else:
        checks.append(
            Check(
                "migrations",
                "fail",
                f"database at {', '.join(sorted(current)) or 'nothing'}, code at "
                f"{', '.join(sorted(heads))}",
                "run `dispatch db upgrade`",
            )
        )
        return checks
    with session_scope() as session:
        beats = health.last_beats(session)
    now = utcnow()
    live_beats = [n for n, at in beats.items() if n.startswith("beat:") and now - at < STALE]
    if len(live_beats) == 1:
        checks.append(Check("beat", "ok", f"one beat running ({live_beats[0][5:]})"))
    elif not live_beats:
        checks.append(
            Check(
                "beat", "fail", "no beat has run in 3 minutes", "start exactly one `dispatch beat`"
            )
        )
    else:
        checks.append(
            Check(
                "beat",
                "fail",
                f"{len(live_beats)} beats running: {', '.join(n[5:] for n in live_beats)}",
                "run exactly one `dispatch beat`: each one doubles every tick",
            )
        )
    worker = beats.get("worker")
    if worker is not None and now - worker < STALE:
        seconds = int((now - worker).total_seconds())
        checks.append(Check("workers", "ok", f"a worker ran the heartbeat {seconds} s ago"))
    else:
        checks.append(
            Check(
                "workers",
                "fail",
                "no worker has run the heartbeat in 3 minutes",
                "start `dispatch worker` (and beat, which asks for the heartbeat)",
            )
        )
    return checks


def check_broker() -> Check:
    from dispatch import doorbell

    reach = doorbell.installed().check()
    if reach.ok:
        return Check("broker", "ok", f"{reach.detail} answers")
    return Check("broker", "fail", reach.detail, "start the broker or fix DISPATCH_BROKER__URL")


def check_smtp(settings: Settings) -> Check:
    from dispatch.delivery.transport import for_settings

    mail = settings.mail
    if mail.transport != "smtp":
        return Check("smtp", "skip", f"mail goes to the outbox folder {settings.mail_outbox_dir}")
    transport: Any = for_settings(settings)
    refused, used = transport.check()
    where = f"{mail.smtp_host}:{mail.smtp_port}"
    if refused is not None:
        return Check(
            "smtp",
            "fail",
            f"{where}: {refused.summary()}",
            "check mail.smtp_host, smtp_port, smtp_security, smtp_username and "
            "DISPATCH_MAIL__SMTP_PASSWORD",
        )
    if "no TLS" in used and mail.smtp_host not in ("localhost", "127.0.0.1"):
        return Check("smtp", "warn", f"{where}: {used}", "set mail.smtp_security to starttls")
    return Check("smtp", "ok", f"{where}: {used}")


def _tags(record: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in record.split(";"))
    return {k.strip().lower(): re.sub(r"\s+", "", v) for k, _, v in pairs if k.strip()}


def check_dkim(settings: Settings, lookup: Lookup) -> list[Check]:
    from dispatch.delivery.dkim import public_record
    from dispatch.delivery.mime import dkim_keys

    keys = dkim_keys(settings)
    if not keys:
        return [
            Check(
                "dkim",
                "warn",
                "messages are not signed",
                "set mail.dkim_selector, mail.dkim_domain and DISPATCH_MAIL__DKIM_PRIVATE_KEY",
            )
        ]
    checks = []
    for key in keys:
        name = f"{key.selector}._domainkey.{key.domain}"
        expected = public_record(key)
        found = lookup(name)
        label = f"dkim {key.selector}"
        if not found:
            checks.append(
                Check(label, "fail", f"no TXT record at {name}", f"publish at {name}: {expected}")
            )
            continue
        wanted = _tags(expected)
        if any(_tags(r).get("p") == wanted["p"] for r in found):
            checks.append(Check(label, "ok", f"{name} publishes the key: {found[0]}"))
        else:
            checks.append(
                Check(
                    label,
                    "fail",
                    f"{name} answers {found}, not this key",
                    f"publish at {name}: {expected}",
                )
            )
    return checks


def check_spf_dmarc(settings: Settings, lookup: Lookup) -> list[Check]:
    mail = settings.mail
    checks = []
    bounce_domain = settings.bounce_domain
    spf = [r for r in lookup(bounce_domain) if r.lower().startswith("v=spf1")]
    include = SPF_INCLUDES.get(mail.provider, "")
    if not spf:
        checks.append(
            Check(
                "spf",
                "warn",
                f"{bounce_domain} (the envelope sender's domain) has no SPF record",
                f"publish at {bounce_domain}: v=spf1 {include or 'a mx'} ~all".replace("  ", " "),
            )
        )
    elif include and include not in spf[0]:
        checks.append(Check("spf", "warn", f"{bounce_domain}: {spf[0]}", f"add {include} to it"))
    else:
        checks.append(Check("spf", "ok", f"{bounce_domain}: {spf[0]}"))
    from_domain = mail.from_address.rpartition("@")[2]
    dmarc = [r for r in lookup(f"_dmarc.{from_domain}") if r.lower().startswith("v=dmarc1")]
    if not dmarc:
        checks.append(
            Check(
                "dmarc",
                "warn",
                f"_dmarc.{from_domain} has no DMARC record",
                f"publish at _dmarc.{from_domain}: v=DMARC1; p=none; rua=mailto:dmarc@{from_domain}"
                " (then p=quarantine once reports look right)",
            )
        )
    else:
        checks.append(Check("dmarc", "ok", f"_dmarc.{from_domain}: {dmarc[0]}"))
    dkim_domain = mail.dkim_domain
    aligned = dkim_domain and (
        from_domain == dkim_domain or from_domain.endswith("." + dkim_domain)
    )
    if dkim_domain and not aligned:
        checks.append(
            Check(
                "alignment",
                "warn",
                f"DKIM signs for {dkim_domain}, mail comes from {from_domain}",
                "sign with mail.dkim_domain = the From address's domain (DMARC alignment)",
            )
        )
    return checks


def run_checks(settings: Settings, *, offline: bool, nameserver: str | None) -> list[Check]:
    checks = check_database(settings)
    checks.append(check_broker())
    checks.append(check_smtp(settings))
    if offline:
        checks.append(Check("dns", "skip", "offline: DKIM, SPF and DMARC not looked up"))
        return checks
    lookup = txt_lookup(nameserver)
    try:
        checks += check_dkim(settings, lookup)
        checks += check_spf_dmarc(settings, lookup)
    except Offline as error:
        checks.append(Check("dns", "skip", f"no DNS answer ({error}): DNS checks skipped"))
    return checks


_MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def doctor(
    offline: bool = typer.Option(False, "--offline", help="Skip the DNS checks."),
    nameserver: str | None = typer.Option(
        None, "--nameserver", help="Ask this DNS server (HOST[:PORT]) rather than the system's."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check the deployment: database, migrations, broker, beat, workers, SMTP, DKIM, SPF,
    DMARC; print what to fix."""
    settings = settings_or_exit()
    checks = run_checks(settings, offline=offline, nameserver=nameserver)
    if as_json:
        typer.echo(json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=2))
    else:
        for check in checks:
            typer.echo(f"{_MARKS[check.status]}  {check.name}: {check.detail}")
            if check.fix:
                typer.echo(f"      fix: {check.fix}")
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)
