from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from tests.delivery.live import make_send
from tests.smtp_sink import SmtpSink

__all__ = ["make_send"]  # the end-to-end sends' fixture, for every test in this folder

SinkFactory = Callable[..., SmtpSink]


@pytest.fixture
def smtp_sink() -> Iterator[SinkFactory]:
    """Start local SMTP servers (aiosmtpd in a thread) with the given options."""
    started: list[SmtpSink] = []

    def start(**options: object) -> SmtpSink:
        sink = SmtpSink(**options).start()  # type: ignore[arg-type]
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


def newsletter(recipient: str, *, subject: str = "La lettre de novembre", body: str = "") -> bytes:
    """A message as the composer would hand it over: CRLF, a Date and a Message-ID."""
    message = EmailMessage()
    message["From"] = "La 27e Région <lettre@la27eregion.fr>"
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 3, 8, 0, tzinfo=UTC))
    message["Message-ID"] = make_msgid(domain="lettre.la27eregion.fr")
    message.set_content(
        body
        or "Bonjour,\n\nInnovation publique : et si on « dépliait » l'évaluation ?\n"
        ".Une ligne qui commence par un point.\n.\nFin.\n"
    )
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
