"""SMTP PIPELINING (RFC 2920): envelope commands in one write, outcomes mapped as without it.

The transport and engine fault tests run again here against the same aiosmtpd sink, this
time advertising PIPELINING, so every refusal, deferral and drop is checked on the
pipelined path too.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dispatch.delivery.smtp import SmtpTransport
from dispatch.delivery.transport import SendStatus
from tests.delivery.conftest import newsletter
from tests.delivery.test_sending_faults import (  # noqa: F401 - collected again, pipelined
    test_a_permanent_refusal_fails_the_row_and_a_lasting_deferral_gives_up,
    test_consecutive_errors_pause_the_edition_and_say_why,
    test_refusals_are_retried_failed_or_suppressed_and_nothing_is_lost,
)
from tests.delivery.test_smtp_transport import (  # noqa: F401 - collected again, pipelined
    test_421_at_connect_retries_and_the_next_message_gets_through,
    test_451_always_keeps_retrying_without_harming_others,
    test_451_on_rcpt_once_retries_then_delivers,
    test_550_511_is_a_hard_bounce_and_the_batch_goes_on,
    test_a_batch_goes_out_on_one_connection_intact,
    test_a_connection_closed_between_messages_is_reopened,
    test_a_drop_after_data_is_a_retry_that_may_have_been_delivered,
    test_an_internationalised_address_uses_smtputf8,
    test_content_refused_after_data_fails_that_message_only,
    test_message_limit_per_connection,
    test_starttls_with_auth,
)
from tests.smtp_sink import _Handler

SENDER = "bounces+d1-000000000000@lettre.la27eregion.fr"


async def _ehlo_with_pipelining(
    self: Any, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
) -> list[str]:
    session.host_name = hostname
    return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture(autouse=True)
def pipelining_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every aiosmtpd sink started by this module's tests advertises PIPELINING."""
    monkeypatch.setattr(_Handler, "handle_EHLO", _ehlo_with_pipelining, raising=False)


class _GroupingServer:
    """A server that answers MAIL only once RCPT and DATA have arrived too.

    A client that waits for each reply before the next command never gets one (it times
    out), so a delivery through this server proves the envelope went out as one group.
    """

    def __init__(self, rcpt_reply: bytes = b"250 2.1.5 OK") -> None:
        self.rcpt_reply = rcpt_reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.commands: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 grouping ESMTP\r\n")
            reader.readline()  # EHLO
            conn.sendall(b"250-grouping\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            while True:
                first = reader.readline()
                if not first or first.upper().startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n" if first else b"")
                    return
                self.commands += [first, reader.readline(), reader.readline()]
                accepted = self.rcpt_reply.startswith(b"2")
                data_reply = b"354 go ahead" if accepted else b"554 5.5.1 no valid recipients"
                conn.sendall(b"250 2.1.0 OK\r\n" + self.rcpt_reply + b"\r\n" + data_reply + b"\r\n")
                if not accepted:
                    return
                lines = []
                while (line := reader.readline()) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                self.received.append(b"".join(lines))
                conn.sendall(b"250 2.0.0 OK queued\r\n")

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def grouping_server() -> Iterator[type[_GroupingServer]]:
    started: list[_GroupingServer] = []

    def start(**options: Any) -> _GroupingServer:
        server = _GroupingServer(**options)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.close()


def test_the_envelope_goes_out_in_one_group_and_the_message_arrives_intact(grouping_server):
    server = grouping_server()
    message = newsletter("claire@example.net")
    with SmtpTransport("127.0.0.1", server.port, security="none", timeout=3) as transport:
        outcome = transport.send(SENDER, "claire@example.net", message)
    assert outcome.status is SendStatus.SENT, outcome.summary()
    assert server.commands[0].startswith(f"MAIL FROM:<{SENDER}>".encode())
    assert server.commands[1:] == [b"RCPT TO:<claire@example.net>\r\n", b"DATA\r\n"]
    # Lines starting with a dot were doubled on the wire and undone by the server.
    [received] = server.received
    assert received == message
    assert b"\r\n.Une ligne qui commence par un point." in received


def test_a_refused_recipient_in_the_group_is_still_a_hard_bounce(grouping_server):
    server = grouping_server(rcpt_reply=b"550 5.1.1 <nobody@example.net>: User unknown")
    with SmtpTransport("127.0.0.1", server.port, security="none", timeout=3) as transport:
        outcome = transport.send(SENDER, "nobody@example.net", newsletter("nobody@example.net"))
    assert outcome.status is SendStatus.BOUNCED
    assert outcome.hard_bounce and outcome.enhanced_code == "5.1.1"
    assert server.received == []
