"""Fixtures for audience tests: the demo topics, and a mail transport that keeps messages."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import Message
from types import TracebackType
from typing import Self

import pytest
from sqlalchemy.orm import Session

from dispatch.content.models import Topic
from dispatch.delivery.transport import SendOutcome, SendStatus


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
