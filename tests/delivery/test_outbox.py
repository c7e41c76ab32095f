from __future__ import annotations

import email
import email.policy

from dispatch.delivery.outbox import OutboxTransport
from dispatch.delivery.transport import SendStatus
from tests.delivery.conftest import newsletter

SENDER = "bounces+d7-000000000000@lettre.la27eregion.fr"


def read(path):
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_each_recipient_gets_a_parseable_eml_file(tmp_path):
    outbox = tmp_path / "outbox"
    messages = {r: newsletter(r) for r in ["claire@example.net", "marc@example.net"]}
    with OutboxTransport(outbox) as transport:
        outcomes = {r: transport.send(SENDER, r, m) for r, m in messages.items()}
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert all(o.status is SendStatus.SENT for o in outcomes.values())
    for recipient, message in messages.items():
        path = transport.path_for(recipient, message)
        assert str(path) in outcomes[recipient].reply
        assert path.name.startswith("20261103T080000Z-")
        parsed = read(path)
        original = email.message_from_bytes(message, policy=email.policy.default)
        assert parsed["To"] == recipient
        assert parsed["Message-ID"] == original["Message-ID"]
        assert parsed["Return-Path"] == f"<{SENDER}>"
        assert parsed["Envelope-To"] == recipient
        assert "dépliait" in parsed.get_content()
    assert not list(outbox.glob(".tmp-*"))  # no leftovers of the atomic write


def test_sending_the_same_message_again_rewrites_the_same_file(tmp_path):
    message = newsletter("claire@example.net")
    transport = OutboxTransport(tmp_path)
    transport.open()
    transport.send(SENDER, "claire@example.net", message)
    transport.send(SENDER, "Claire@Example.net", message)
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_idempotent_without_a_date_header_too(tmp_path):
    message = b"From: a@x.org\r\nMessage-ID: <no-date@x.org>\r\nSubject: s\r\n\r\nbody\r\n"
    transport = OutboxTransport(tmp_path, fsync=False)
    first = transport.send(SENDER, "a@example.net", message)
    second = transport.send(SENDER, "a@example.net", message)
    assert first.reply == second.reply
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_a_folder_that_cannot_be_written_is_a_retry(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    outcome = OutboxTransport(blocker).send(SENDER, "a@example.net", newsletter("a@example.net"))
    assert outcome.status is SendStatus.RETRY
    assert str(blocker) in outcome.reason
