"""Confirmation and link emails: right language, one link that works, sent once per request."""

from __future__ import annotations

import re
from email.message import Message
from pathlib import Path

from sqlalchemy.orm import Session

from dispatch.audience import emails, service, tokens
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.delivery.transport import SendStatus
from tests.audience import factories
from tests.audience.conftest import KeepingTransport


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def test_the_confirmation_is_sent_once_in_the_subscribers_language(
    db_session: Session, settings: Settings, topics: list[Topic], transport: KeepingTransport
) -> None:
    subscriber = factories.pending(db_session, settings, locale="fr")

    outcome = emails.send_confirmation(db_session, settings, subscriber.id, transport)
    again = emails.send_confirmation(db_session, settings, subscriber.id, transport)

    assert outcome is not None and outcome.ok
    assert again is None, "a task run twice must not mail twice"
    (message,) = transport.messages()
    assert message["To"] == f"Camille Martin <{subscriber.email}>"
    assert "Confirmez votre abonnement" in str(message["Subject"])
    assert message["Message-ID"] and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    (url,) = set(re.findall(r"https?://\S+/confirm/[\w.\-]+", bodies["text/plain"]))
    token = url.rsplit("/", 1)[1]
    assert service.confirm(db_session, settings, token, factories.WEB).status == "confirmed"
    assert url in bodies["text/html"]
    assert 'lang="fr"' in bodies["text/html"]


def test_a_new_request_sends_again_and_english_readers_get_english(
    db_session: Session, settings: Settings, topics: list[Topic], transport: KeepingTransport
) -> None:
    subscriber = factories.pending(db_session, settings, locale="en")
    emails.send_confirmation(db_session, settings, subscriber.id, transport)
    factories.pending(db_session, settings, email=subscriber.email, locale="en")
    emails.send_confirmation(db_session, settings, subscriber.id, transport)

    subjects = [str(m["Subject"]) for m in transport.messages()]
    assert len(subjects) == 2
    assert all(s.startswith("Please confirm your subscription") for s in subjects)


def test_a_failed_send_is_tried_again_later(
    db_session: Session, settings: Settings, topics: list[Topic], transport: KeepingTransport
) -> None:
    subscriber = factories.pending(db_session, settings)
    transport.status = SendStatus.RETRY
    outcome = emails.send_confirmation(db_session, settings, subscriber.id, transport)
    assert outcome is not None and outcome.status is SendStatus.RETRY
    transport.status = SendStatus.SENT
    assert emails.send_confirmation(db_session, settings, subscriber.id, transport) is not None
    assert len(transport.sent) == 1


def test_the_preferences_link_goes_only_to_active_subscribers(
    db_session: Session, settings: Settings, topics: list[Topic], transport: KeepingTransport
) -> None:
    active = factories.active(db_session, settings)
    gone = factories.active(db_session, settings)
    assert service.request_link(db_session, settings, active.email).mail == "link"
    assert service.request_link(db_session, settings, gone.email).mail == "link"
    service.unsubscribe(db_session, settings, gone, factories.WEB)
    assert service.request_link(db_session, settings, "nobody@example.org").mail is None

    assert emails.send_preferences_link(db_session, settings, active.id, transport) is not None
    assert emails.send_preferences_link(db_session, settings, gone.id, transport) is None

    (message,) = transport.messages()
    text = parts(message)["text/plain"]
    assert tokens.preferences_url(settings, active.id) in text


def test_the_outbox_transport_writes_a_readable_eml(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.pending(db_session, settings)
    outbox = emails.transport_for(settings)
    assert emails.send_confirmation(db_session, settings, subscriber.id, outbox) is not None
    files = list(Path(settings.mail_outbox_dir).glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    assert f"Envelope-To: {subscriber.email}".encode() in raw
    assert b"Return-Path: <bounces@dispatch.localhost>" in raw
