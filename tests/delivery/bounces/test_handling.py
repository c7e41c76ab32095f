"""Bounces and complaints from real messages change rows, subscribers and suppression once."""

from __future__ import annotations

import mailbox
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import AppSettings, MailSettings, SecuritySettings, Settings, build_settings
from dispatch.delivery.bounces import handling as processing
from dispatch.delivery.bounces.mailbox import MaildirInbox
from dispatch.delivery.bounces.reports import BounceReport, classify
from dispatch.delivery.models import BounceEvent, Delivery, HeldReport
from tests import factories

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "delivery"
HARD = ["dsn_11", "exim_01", "postfix_01", "qmail_03", "microsoft_01", "yahoo_03"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        mail=MailSettings(
            bounce_domain="lettre.la27eregion.fr",
            soft_bounce_threshold=2,
            bounce_maildir=tmp_path / "bounces",
        ),
        security=SecuritySettings(secret_key=SecretStr("test-verp-secret")),
    )


def _report(path: str, settings: Settings) -> BounceReport:
    report = classify(
        (FIXTURES / path).read_bytes(),
        verp_secret=settings.secret_key,
        bounce_domain=settings.bounce_domain,
    )
    assert report is not None
    return report


def _delivery(session: Session, row_id: int, person: Subscriber) -> Delivery:
    edition = factories.edition(session, status="sent")
    row = Delivery(id=row_id, edition_id=edition.id, subscriber_id=person.id, status="sent")
    session.add(row)
    session.flush()
    return row


@pytest.mark.parametrize("name", HARD)
def test_a_hard_bounce_from_a_real_server_suppresses_the_address(
    db_session: Session, settings: Settings, name: str
) -> None:
    report = _report(f"bounces/{name}.eml", settings)
    person = factories.subscriber(db_session, email=report.recipients[0].lower())
    # The fixtures come from real servers, without our signed return path: as if proven.
    proven = replace(report, delivery_id=_delivery(db_session, 900, person).id)

    assert processing.apply_report(db_session, settings, proven, source_ref=name) == "hard"
    assert person.status == "bounced"
    assert is_suppressed(db_session, settings, person.email)


def test_soft_bounces_suppress_only_past_the_threshold(
    db_session: Session, settings: Settings
) -> None:
    person = factories.subscriber(db_session, email="agarciamartiartu@yahoo.es")
    first = replace(
        _report("bounces/yahoo_02.eml", settings),
        delivery_id=_delivery(db_session, 901, person).id,
    )
    second = replace(
        _report("bounces/yahoo_04.eml", settings),
        delivery_id=_delivery(db_session, 902, person).id,
    )

    assert processing.apply_report(db_session, settings, first, source_ref="a") == "soft"
    assert person.status == "active" and not is_suppressed(db_session, settings, person.email)
    assert processing.apply_report(db_session, settings, second, source_ref="b") == "suppressed"
    assert person.status == "bounced"
    assert is_suppressed(db_session, settings, person.email)


def test_a_verp_bounce_marks_its_own_delivery(db_session: Session, settings: Settings) -> None:
    person = factories.subscriber(db_session, email="jean.dupont@exemple-collectivite.fr")
    row = _delivery(db_session, 31337, person)

    report = _report("verp/postfix_dsn_verp.eml", settings)
    assert report.delivery_id == 31337
    assert processing.apply_report(db_session, settings, report, source_ref="verp") == "hard"
    assert row.status == "bounced" and "5.1.1" in (row.error or "")
    assert person.status == "bounced"


def test_an_arf_complaint_suppresses_the_reader_it_came_from(
    db_session: Session, settings: Settings
) -> None:
    # Matched through the signed return path, not the address the report shows.
    person = factories.subscriber(db_session, email="claire.m@example.net")
    _delivery(db_session, 4242, person)
    bystander = factories.subscriber(db_session, email="claire.martin@example.net")

    report = _report("complaints/arf_abuse_verp.eml", settings)
    assert processing.apply_report(db_session, settings, report, source_ref="arf") == "complaint"
    assert person.status == "complained"
    assert is_suppressed(db_session, settings, person.email)
    assert bystander.status == "active"


def test_reading_the_mailbox_twice_applies_each_message_once(
    db_session: Session, settings: Settings, tmp_path: Path
) -> None:
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for name in ["verp/postfix_dsn_verp.eml", "complaints/arf_abuse_verp.eml"]:
        box.add((FIXTURES / name).read_bytes())
    # Real servers' bounces without our signature: held, never applied.
    box.add((FIXTURES / "bounces/dsn_11.eml").read_bytes())
    box.add(b"From: a.person@example.org\r\nSubject: Merci !\r\n\r\nBonne journee.\r\n")
    hard = factories.subscriber(db_session, email="jean.dupont@exemple-collectivite.fr")
    _delivery(db_session, 31337, hard)
    complainer = factories.subscriber(db_session, email="claire.m@example.net")
    _delivery(db_session, 4242, complainer)
    named = factories.subscriber(db_session, email="joem@example.com")
    sessions = sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint")

    first = processing.process_messages(
        sessions, settings, MaildirInbox(tmp_path / "bounces"), source="test"
    )
    second = processing.process_messages(
        sessions, settings, MaildirInbox(tmp_path / "bounces"), source="test"
    )

    assert (first.read, first.hard, first.complaints, first.held, first.ignored) == (4, 1, 1, 1, 1)
    assert second.read == 0
    db_session.expire_all()
    assert (hard.status, complainer.status, named.status) == ("bounced", "complained", "active")
    assert db_session.scalar(select(func.count()).select_from(BounceEvent)) == 2
    assert db_session.scalar(select(func.count()).select_from(HeldReport)) == 1

    # The same message arriving again under the same key changes nothing more.
    again = _report("verp/postfix_dsn_verp.eml", settings)
    ref = db_session.scalar(
        select(BounceEvent.source_ref).where(BounceEvent.subscriber_id == hard.id)
    )
    assert ref is not None
    assert processing.apply_report(db_session, settings, again, source_ref=ref) == "already_done"
    held_ref = db_session.scalar(select(HeldReport.source_ref))
    assert held_ref is not None
    unproven = _report("bounces/dsn_11.eml", settings)
    assert processing.apply_report(db_session, settings, unproven, source_ref=held_ref) == (
        "already_done"
    )


def test_writing_to_the_list_unsubscribe_mailto_unsubscribes(
    db_session: Session, settings: Settings, tmp_path: Path
) -> None:
    from dispatch.delivery import verp

    leaving = factories.subscriber(db_session, email="lea.depart@example.org")
    staying = factories.subscriber(db_session, email="reste@example.org")
    address = verp.encode_unsubscribe(
        "bounces", settings.bounce_domain, leaving.id, settings.secret_key
    )
    forged = address.replace(f"+u{leaving.id}-", f"+u{staying.id}-")
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for to in (address, forged):
        headers = f"From: {leaving.email}\r\nTo: {to}\r\nSubject: unsubscribe\r\n"
        box.add(f"{headers}\r\nunsubscribe\r\n".encode())
    sessions = sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint")

    summary = processing.process_messages(
        sessions, settings, MaildirInbox(tmp_path / "bounces"), source="test"
    )

    assert summary.unsubscribed == 1
    db_session.expire_all()
    assert leaving.status == "unsubscribed"
    assert is_suppressed(db_session, settings, leaving.email)
    # A forged address (someone else's id under this reader's signature) changes nothing.
    assert staying.status == "active"
