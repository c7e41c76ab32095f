"""Hostile mail to the bounce mailbox: only a signed delivery acts on a reader; forged
bounces, complaints and unsubscribe requests are held or ignored, never obeyed."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch import config
from dispatch.audience.models import ConsentEvent, Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import AppSettings, MailSettings, SecuritySettings, Settings, build_settings
from dispatch.db import session_scope
from dispatch.delivery import verp
from dispatch.delivery.bounces import handling
from dispatch.delivery.models import Delivery, HeldReport
from tests import factories
from tests.conftest import Cli

DOMAIN = "lettre.la27eregion.fr"
SECRET = "the-verp-secret-nobody-outside-knows"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        mail=MailSettings(bounce_domain=DOMAIN, bounce_maildir=tmp_path / "bounces"),
        security=SecuritySettings(secret_key=SecretStr(SECRET)),
    )


def _dsn(reader: str, *, to: str = f"bounces@{DOMAIN}", quoted: str = "") -> bytes:
    """A delivery status notification as any stranger can write one."""
    return f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {to}
Subject: Undelivered Mail Returned to Sender
Date: Tue, 3 Nov 2026 09:00:41 +0100
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

<{reader}>: 550 5.1.1 User unknown

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {reader}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--b
Content-Type: text/rfc822-headers

From: La 27e Region <lettre@la27eregion.fr>
To: {reader}
Subject: La lettre
{quoted}
--b--
""".replace("\n", "\r\n").encode()


def _arf(reader: str, *, mail_from: str = f"bounces@{DOMAIN}", quoted: str = "") -> bytes:
    """An RFC 5965 feedback report, as any stranger can write one."""
    return f"""From: abuse-reports@isp.example
To: fbl@{DOMAIN}
Subject: Abuse report
Date: Thu, 5 Nov 2026 11:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b"

--b
Content-Type: text/plain

An abuse report.

--b
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Forger/0.1
Version: 1
Original-Mail-From: <{mail_from}>
Original-Rcpt-To: <{reader}>

--b
Content-Type: text/rfc822-headers

From: La 27e Region <lettre@la27eregion.fr>
To: {reader}
Subject: Lettre
{quoted}
--b--
""".replace("\n", "\r\n").encode()


FORGED = {
    # Naming a real reader, with no signature at all.
    "dsn naming a reader": lambda reader, other: _dsn(reader),
    "arf naming a reader": lambda reader, other: _arf(reader),
    # A VERP address whose signature was guessed.
    "dsn to a forged return path": lambda reader, other: _dsn(
        reader, to=f"bounces+d{other}-0123456789ab@{DOMAIN}"
    ),
    "arf from a forged return path": lambda reader, other: _arf(
        reader, mail_from=f"bounces+d{other}-0123456789ab@{DOMAIN}"
    ),
    # A delivery header whose signature was guessed, in the quoted original.
    "dsn quoting a forged delivery header": lambda reader, other: _dsn(
        reader, quoted=f"{verp.DELIVERY_HEADER}: d{other}-deadbeefcafe"
    ),
    "arf quoting a forged delivery header": lambda reader, other: _arf(
        reader, quoted=f"{verp.DELIVERY_HEADER}: d{other}-deadbeefcafe"
    ),
}


def _reader_with_delivery(session: Session, email: str) -> tuple[Subscriber, Delivery]:
    person = factories.subscriber(session, email=email)
    edition = factories.edition(session, status="sent")
    row = Delivery(edition_id=edition.id, subscriber_id=person.id, status="sent")
    session.add(row)
    session.flush()
    return person, row


def _deliver(tmp_path: Path, *messages: bytes) -> None:
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for message in messages:
        box.add(message)


@pytest.mark.parametrize("forgery", list(FORGED))
def test_a_forged_report_is_held_and_suppresses_nobody(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path, forgery: str
) -> None:
    with session_scope(sessions) as session:
        person, row = _reader_with_delivery(session, "lea.lectrice@example.org")
        person_id, delivery_id = person.id, row.id
    _deliver(tmp_path, FORGED[forgery](person.email, delivery_id))

    summary = handling.process_bounces(sessions, settings)

    assert summary.held == 1 and summary.suppressed == 0
    with session_scope(sessions) as session:
        reader = session.get(Subscriber, person_id)
        assert reader is not None and reader.status == "active"
        assert not is_suppressed(session, settings, reader.email)
        actions = session.scalars(
            select(ConsentEvent.action).where(ConsentEvent.subscriber_id == person_id)
        ).all()
        assert "bounce" not in actions and "complaint" not in actions
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.status == "sent"
        held = session.scalars(select(HeldReport)).one()
        assert held.recipients == "lea.lectrice@example.org"
        assert "no signed return path" in held.reason
        assert held.origin.startswith("From: ")


def test_the_same_report_with_its_genuine_signature_acts(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    # The control: what the forgeries lacked is exactly what makes a report count.
    with session_scope(sessions) as session:
        person, row = _reader_with_delivery(session, "lea.lectrice@example.org")
        person_id = person.id
        token = verp.make_token(row.id, SECRET)
    _deliver(tmp_path, _arf(person.email, quoted=f"{verp.DELIVERY_HEADER}: {token}"))

    summary = handling.process_bounces(sessions, settings)

    assert (summary.complaints, summary.held) == (1, 0)
    with session_scope(sessions) as session:
        reader = session.get(Subscriber, person_id)
        assert reader is not None and reader.status == "complained"


def test_a_forged_unsubscribe_mailto_unsubscribes_nobody(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    with session_scope(sessions) as session:
        victim = factories.subscriber(session, email="victime@example.org")
        victim_id = victim.id
    guessed = f"bounces+u{victim_id}-0123456789ab@{DOMAIN}"
    plain = f"bounces@{DOMAIN}"
    head = f"From: {victim.email}\r\nSubject: unsubscribe\r\n"
    _deliver(
        tmp_path, *(f"{head}To: {to}\r\n\r\nunsubscribe\r\n".encode() for to in (guessed, plain))
    )

    summary = handling.process_bounces(sessions, settings)

    assert summary.unsubscribed == 0
    with session_scope(sessions) as session:
        reader = session.get(Subscriber, victim_id)
        assert reader is not None and reader.status == "active"


def test_staff_review_held_reports_from_the_command_line(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCH_MAIL__BOUNCE_MAILDIR", str(tmp_path / "bounces"))
    config.get_settings.cache_clear()
    with session_scope(cli.sessions()) as session:
        gone_id = factories.subscriber(session, email="parti@example.org").id
        kept_id = factories.subscriber(session, email="reste@example.org").id
    _deliver(tmp_path, _dsn("parti@example.org"), _arf("reste@example.org"))

    processed = cli("bounces", "process")
    assert "2 held for review" in processed.stdout
    listed = cli("bounces", "held")
    assert "parti@example.org" in listed.stdout and "reste@example.org" in listed.stdout
    assert "no signed return path" in listed.stdout
    ids = [row["id"] for row in json.loads(cli("bounces", "held", "--json").stdout)]

    applied = cli("bounces", "apply", str(ids[0]))
    assert "parti@example.org: active → bounced" in applied.stdout
    assert "discarded" in cli("bounces", "discard", str(ids[1])).stdout
    assert cli("bounces", "apply", str(ids[1])).exit_code == 1  # already discarded
    assert cli("bounces", "held").stdout.strip() == "No held reports."
    resolved = json.loads(cli("bounces", "held", "--all", "--json").stdout)
    assert [r["resolution"] for r in resolved] == ["applied", "discarded"]
    with session_scope(cli.sessions()) as session:
        statuses = {s.id: s.status for s in session.scalars(select(Subscriber))}
    assert statuses == {gone_id: "bounced", kept_id: "active"}


def _aside(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "bounces" / ".Unreadable" / "cur").glob("*"))


def test_an_oversized_message_is_set_aside_unread_once(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    huge = _dsn("lea@example.org") + b"X" * (22 * 1024 * 1024) + b"\r\n"
    _deliver(tmp_path, huge)

    first = handling.process_bounces(sessions, settings)
    second = handling.process_bounces(sessions, settings)

    assert (first.read, first.unreadable, first.held) == (1, 1, 0)
    assert second.read == 0
    assert len(_aside(tmp_path)) == 1 and _aside(tmp_path)[0].stat().st_size == len(huge)
    with session_scope(sessions) as session:
        held = session.scalars(select(HeldReport)).one()
        assert held.kind == "unreadable"
        assert "too large to read" in held.reason and "mail.bounce_max_bytes" in held.reason


def test_an_unparseable_message_is_set_aside_once_with_its_reason(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    broken = b'Content-Type: text/plain; charset="\xff\xfe"\r\n\r\nhello\r\n'
    _deliver(tmp_path, broken, _dsn("lea@example.org"))

    first = handling.process_bounces(sessions, settings)
    second = handling.process_bounces(sessions, settings)

    assert (first.read, first.unreadable, first.held) == (2, 1, 1)
    assert second.read == 0 and second.unreadable == 0
    assert len(_aside(tmp_path)) == 1
    with session_scope(sessions) as session:
        reasons = session.scalars(
            select(HeldReport.reason).where(HeldReport.kind == "unreadable")
        ).all()
        assert len(reasons) == 1 and reasons[0].startswith("cannot be read: ")
        assert session.scalar(select(func.count()).select_from(HeldReport)) == 2
