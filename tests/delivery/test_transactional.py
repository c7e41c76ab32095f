"""Confirmation and link emails: right language, one link that works, sent once per request."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest
from sqlalchemy.orm import Session

from dispatch.audience import service, tokens
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.delivery import transactional
from dispatch.delivery.transport import SendOutcome, SendStatus, for_settings
from tests.audience import factories


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


@pytest.fixture
def topics(db_session: Session) -> list[Topic]:
    from dispatch.demo import ensure_topics

    return ensure_topics(db_session)


@dataclass
class KeepingTransport:
    """Keeps what it is given; `status` lets a test make the next sends fail."""

    sent: list[tuple[str, str, bytes]] = field(default_factory=list)
    status: SendStatus = SendStatus.SENT

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendOutcome:
        if self.status is not SendStatus.SENT:
            return SendOutcome(self.status, reason="refused for the test")
        self.sent.append((envelope_from, recipient, message))
        return SendOutcome(SendStatus.SENT)

    def messages(self) -> list[Message]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in self.sent
        ]


@pytest.fixture
def transport() -> KeepingTransport:
    return KeepingTransport()


def test_the_confirmation_is_sent_once_in_the_subscribers_language(
    db_session: Session, settings: Settings, topics: list[Topic], transport: KeepingTransport
) -> None:
    subscriber = factories.pending(db_session, settings, locale="fr")

    outcome = transactional.send(db_session, settings, "confirm", subscriber.id, transport)
    again = transactional.send(db_session, settings, "confirm", subscriber.id, transport)

    assert outcome is not None and outcome.ok
    assert again is None, "a task run twice must not mail twice"
    (message,) = transport.messages()
    # The name was typed by whoever filled the form: not in the email before confirmation.
    assert message["To"] == subscriber.email
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
    transactional.send(db_session, settings, "confirm", subscriber.id, transport)
    factories.pending(db_session, settings, email=subscriber.email, locale="en")
    transactional.send(db_session, settings, "confirm", subscriber.id, transport)

    subjects = [str(m["Subject"]) for m in transport.messages()]
    assert len(subjects) == 2
    assert all(s.startswith("Please confirm your subscription") for s in subjects)


def test_a_failed_send_is_tried_again_later(
    db_session: Session, settings: Settings, topics: list[Topic], transport: KeepingTransport
) -> None:
    subscriber = factories.pending(db_session, settings)
    transport.status = SendStatus.RETRY
    outcome = transactional.send(db_session, settings, "confirm", subscriber.id, transport)
    assert outcome is not None and outcome.status is SendStatus.RETRY
    transport.status = SendStatus.SENT
    assert transactional.send(db_session, settings, "confirm", subscriber.id, transport) is not None
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

    assert transactional.send(db_session, settings, "link", active.id, transport) is not None
    assert transactional.send(db_session, settings, "link", gone.id, transport) is None

    (message,) = transport.messages()
    text = parts(message)["text/plain"]
    assert tokens.preferences_url(settings, active.id) in text


def test_the_outbox_transport_writes_a_readable_eml(
    db_session: Session, settings: Settings, topics: list[Topic]
) -> None:
    subscriber = factories.pending(db_session, settings)
    outbox = for_settings(settings)
    assert transactional.send(db_session, settings, "confirm", subscriber.id, outbox) is not None
    files = list(Path(settings.mail_outbox_dir).glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    assert f"Envelope-To: {subscriber.email}".encode() in raw
    assert b"Return-Path: <bounces@dispatch.localhost>" in raw


@pytest.mark.parametrize(
    ("locale", "subject", "button"),
    [
        ("fr", "Voulez-vous encore recevoir les nouvelles de", "Je reste abonné·e"),
        ("en", "Do you still want news from", "I want to stay subscribed"),
    ],
)
def test_the_repermission_email_carries_one_stay_button_once(
    db_session: Session,
    settings: Settings,
    topics: list[Topic],
    transport: KeepingTransport,
    locale: str,
    subject: str,
    button: str,
) -> None:
    from dispatch.audience import records
    from dispatch.audience.consent import Origin
    from dispatch.db import utcnow

    reader = factories.active(db_session, settings, locale=locale)
    assert transactional.send(db_session, settings, "repermission", reader.id, transport) is None
    reader.last_engagement_at = reader.confirmed_at = reader.created_at = utcnow().replace(
        year=2020
    )
    records.purge_inactive(db_session, settings, years=3, origin=Origin("test"))

    transactional.send(db_session, settings, "repermission", reader.id, transport)
    transactional.send(db_session, settings, "repermission", reader.id, transport)
    (message,) = transport.messages()
    assert str(message["Subject"]).startswith(subject)
    assert message["Content-Language"] == locale
    bodies = parts(message)
    (url,) = set(re.findall(r"https?://\S+/stay/[\w.\-]+", bodies["text/plain"]))
    assert tokens.read_token(settings, "stay", url.rsplit("/", 1)[1]) == reader.id
    assert button in bodies["text/html"] and url in bodies["text/html"]
    assert "30" in bodies["text/plain"]  # the days they have before being erased
