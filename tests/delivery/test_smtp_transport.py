"""SmtpTransport against a real local SMTP server (aiosmtpd) that injects faults."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest

from dispatch.delivery.smtp import SmtpTransport
from dispatch.delivery.transport import SendStatus
from tests.delivery.conftest import newsletter
from tests.smtp_sink import Faults

SENDER = "bounces+d1-000000000000@lettre.la27eregion.fr"


def transport_for(sink, **options) -> SmtpTransport:
    options.setdefault("security", sink.security)
    if sink.security != "none":
        options.setdefault("ssl_context", sink.client_context())
    options.setdefault("timeout", 5)
    return SmtpTransport("127.0.0.1", sink.port, **options)


def test_a_batch_goes_out_on_one_connection_intact(smtp_sink):
    sink = smtp_sink()
    recipients = [f"abonne{i}@example.net" for i in range(5)]
    messages = {r: newsletter(r) for r in recipients}
    with transport_for(sink) as transport:
        outcomes = [transport.send(SENDER, r, messages[r]) for r in recipients]
    assert [o.status for o in outcomes] == [SendStatus.SENT] * 5
    assert outcomes[0].code == 250
    assert sink.connections == 1
    assert [r["rcpt"] for r in sink.records] == recipients
    assert {r["mail_from"] for r in sink.records} == {SENDER}
    for record in sink.records:
        sent = email.message_from_bytes(messages[record["rcpt"]], policy=email.policy.default)
        received = email.message_from_bytes(record["content"], policy=email.policy.default)
        assert record["message_id"] == sent["Message-ID"]
        # Dot-stuffing undone by the server: the lines starting with a dot arrive unchanged.
        assert received.get_content() == sent.get_content()
        assert ".Une ligne qui commence par un point." in received.get_content()


def test_starttls_with_auth(smtp_sink):
    sink = smtp_sink(security="starttls", auth=("lettre", "s3cret"))
    with transport_for(sink, username="lettre", password="s3cret") as transport:
        outcome = transport.send(SENDER, "claire@example.net", newsletter("claire@example.net"))
    assert outcome.status is SendStatus.SENT
    [record] = sink.records
    assert record["tls"] is True
    assert record["auth"] == "lettre"


def test_wrong_password_is_reported_and_nothing_is_sent(smtp_sink):
    sink = smtp_sink(security="starttls", auth=("lettre", "s3cret"))
    with transport_for(sink, username="lettre", password="wrong") as transport:
        outcome = transport.send(SENDER, "claire@example.net", newsletter("claire@example.net"))
    assert outcome.status is SendStatus.RETRY
    assert outcome.code == 535
    assert "authentication refused" in outcome.reason
    assert sink.records == []


def test_implicit_tls(smtp_sink):
    sink = smtp_sink(security="tls")
    with transport_for(sink) as transport:
        outcome = transport.send(SENDER, "claire@example.net", newsletter("claire@example.net"))
    assert outcome.status is SendStatus.SENT
    assert sink.records[0]["tls"] is True


def test_an_untrusted_certificate_is_refused(smtp_sink):
    sink = smtp_sink(security="tls")
    # The default context does not trust the sink's self-signed certificate.
    with SmtpTransport("127.0.0.1", sink.port, security="tls", timeout=5) as transport:
        outcome = transport.send(SENDER, "claire@example.net", newsletter("claire@example.net"))
    assert outcome.status is SendStatus.RETRY
    assert "certificate" in outcome.reply.lower()
    assert sink.records == []


def test_starttls_asked_but_not_offered_never_falls_back_to_plain_text(smtp_sink):
    sink = smtp_sink(security="none")
    with transport_for(sink, security="starttls") as transport:
        outcome = transport.send(SENDER, "claire@example.net", newsletter("claire@example.net"))
    assert outcome.status is SendStatus.RETRY
    assert "does not offer STARTTLS" in outcome.reason
    assert sink.records == []


def test_421_at_connect_retries_and_the_next_message_gets_through(smtp_sink):
    sink = smtp_sink(faults=Faults(connect_421=1))
    with transport_for(sink) as transport:
        first = transport.send(SENDER, "a@example.net", newsletter("a@example.net"))
        second = transport.send(SENDER, "a@example.net", newsletter("a@example.net"))
    assert first.status is SendStatus.RETRY
    assert (first.code, first.enhanced_code) == (421, "4.3.2")
    assert second.status is SendStatus.SENT
    assert [r["rcpt"] for r in sink.records] == ["a@example.net"]


def test_451_on_rcpt_once_retries_then_delivers(smtp_sink):
    sink = smtp_sink(faults=Faults(rcpt_451_once=["grey@example.net"]))
    with transport_for(sink) as transport:
        first = transport.send(SENDER, "grey@example.net", newsletter("grey@example.net"))
        again = transport.send(SENDER, "grey@example.net", newsletter("grey@example.net"))
    assert first.status is SendStatus.RETRY
    assert (first.code, first.enhanced_code) == (451, "4.7.1")
    assert "Greylisted" in first.reply
    assert again.status is SendStatus.SENT
    assert len(sink.records) == 1
    assert sink.connections == 1  # the refused RCPT did not cost the connection


def test_451_always_keeps_retrying_without_harming_others(smtp_sink):
    sink = smtp_sink(faults=Faults(rcpt_451_always=["busy@example.net"]))
    with transport_for(sink) as transport:
        outcomes = [
            transport.send(SENDER, r, newsletter(r))
            for r in ["busy@example.net", "ok@example.net", "busy@example.net"]
        ]
    assert [o.status for o in outcomes] == [SendStatus.RETRY, SendStatus.SENT, SendStatus.RETRY]
    assert [r["rcpt"] for r in sink.records] == ["ok@example.net"]


def test_550_511_is_a_hard_bounce_and_the_batch_goes_on(smtp_sink):
    sink = smtp_sink(faults=Faults(rcpt_550=["Gone@Example.net"]))
    with transport_for(sink) as transport:
        bounced = transport.send(SENDER, "gone@example.net", newsletter("gone@example.net"))
        after = transport.send(SENDER, "here@example.net", newsletter("here@example.net"))
    assert bounced.status is SendStatus.BOUNCED
    assert bounced.hard_bounce
    assert (bounced.code, bounced.enhanced_code) == (550, "5.1.1")
    assert "User unknown" in bounced.summary()
    assert after.status is SendStatus.SENT
    assert sink.connections == 1


def test_a_connection_closed_between_messages_is_reopened(smtp_sink):
    sink = smtp_sink(faults=Faults(close_after_messages=1))
    recipients = ["a@example.net", "b@example.net", "c@example.net"]
    with transport_for(sink) as transport:
        outcomes = [transport.send(SENDER, r, newsletter(r)) for r in recipients]
    assert [o.status for o in outcomes] == [SendStatus.SENT] * 3
    assert [r["rcpt"] for r in sink.records] == recipients  # each exactly once
    assert sink.connections == 3


def test_a_drop_after_data_is_a_retry_that_may_have_been_delivered(smtp_sink):
    sink = smtp_sink(faults=Faults(drop_after_data_rcpt=["b@example.net"]))
    with transport_for(sink) as transport:
        outcomes = [
            transport.send(SENDER, r, newsletter(r))
            for r in ["a@example.net", "b@example.net", "c@example.net"]
        ]
    a, b, c = outcomes
    assert a.status is SendStatus.SENT
    assert b.status is SendStatus.RETRY
    assert b.may_have_been_delivered
    assert b.reason == "connection lost after DATA: may have been delivered"
    assert c.status is SendStatus.SENT  # on a new connection, without resending b
    assert [(r["rcpt"], r["acknowledged"]) for r in sink.records] == [
        ("a@example.net", True),
        ("b@example.net", False),
        ("c@example.net", True),
    ]
    assert sink.connections == 2


def test_no_answer_to_data_within_the_timeout_may_have_been_delivered(smtp_sink):
    sink = smtp_sink(faults=Faults(slow_data=2.0))
    with transport_for(sink, timeout=0.5) as transport:
        outcome = transport.send(SENDER, "a@example.net", newsletter("a@example.net"))
    assert outcome.status is SendStatus.RETRY
    assert outcome.may_have_been_delivered


def test_slow_replies_within_the_timeout_still_deliver(smtp_sink):
    sink = smtp_sink(faults=Faults(slow=0.02))
    with transport_for(sink, timeout=5) as transport:
        outcome = transport.send(SENDER, "a@example.net", newsletter("a@example.net"))
    assert outcome.status is SendStatus.SENT


def test_message_limit_per_connection(smtp_sink):
    sink = smtp_sink()
    with transport_for(sink, max_messages_per_connection=2) as transport:
        for i in range(5):
            assert transport.send(SENDER, f"r{i}@example.net", newsletter("x@example.net")).ok
    assert sink.connections == 3
    assert len(sink.records) == 5


def test_no_server_listening_is_a_retry_naming_the_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SmtpTransport("127.0.0.1", port, security="none", timeout=2) as transport:
        outcome = transport.send(SENDER, "a@example.net", newsletter("a@example.net"))
    assert outcome.status is SendStatus.RETRY
    assert outcome.reason == f"cannot connect to 127.0.0.1:{port}"


def test_content_refused_after_data_fails_that_message_only(smtp_sink):
    sink = smtp_sink(faults=Faults(data_554=["strict@example.net"]))
    with transport_for(sink) as transport:
        refused = transport.send(SENDER, "strict@example.net", newsletter("strict@example.net"))
        after = transport.send(SENDER, "ok@example.net", newsletter("ok@example.net"))
    assert refused.status is SendStatus.FAILED
    assert not refused.hard_bounce
    assert (refused.code, refused.enhanced_code) == (554, "5.7.1")
    assert "spam" in refused.summary()
    assert after.status is SendStatus.SENT
    assert [r["rcpt"] for r in sink.records] == ["ok@example.net"]
    assert sink.connections == 1


@pytest.mark.parametrize(
    ("code", "text", "stage", "status", "hard"),
    [
        (451, "4.7.1 Greylisted", "rcpt", SendStatus.RETRY, False),
        (550, "5.1.1 User unknown", "rcpt", SendStatus.BOUNCED, True),
        (550, "5.1.1 sender unknown", "mail", SendStatus.FAILED, False),
        (554, "5.7.1 Message refused as spam", "data", SendStatus.FAILED, False),
        (550, "No such user", "rcpt", SendStatus.FAILED, False),
        (554, "5.7.1 Your IP is listed", "connect", SendStatus.RETRY, False),
    ],
)
def test_reply_mapping(code, text, stage, status, hard):
    from dispatch.delivery.transport import outcome_from_reply

    outcome = outcome_from_reply(code, text.encode(), stage=stage)
    assert outcome.status is status
    assert outcome.hard_bounce is hard


def test_an_internationalised_address_uses_smtputf8(smtp_sink):
    sink = smtp_sink()
    with transport_for(sink) as transport:
        outcome = transport.send(SENDER, "élodie@exemple.fr", newsletter("elodie@exemple.fr"))
    assert outcome.status is SendStatus.SENT
    assert [r["rcpt"] for r in sink.records] == ["élodie@exemple.fr"]


def test_before_commit_runs_before_the_final_dot_and_a_failure_delivers_nothing(smtp_sink):
    sink = smtp_sink()
    seen: list[int] = []

    def mark_on_disk() -> None:
        seen.append(sink.messages)  # the server has the data, not yet the final dot

    def database_down() -> None:
        raise RuntimeError("the previous mark could not be written")

    with transport_for(sink) as transport:
        ok = transport.send(
            SENDER, "a@example.net", newsletter("a@example.net"), before_commit=mark_on_disk
        )
        with pytest.raises(RuntimeError):
            transport.send(
                SENDER, "b@example.net", newsletter("b@example.net"), before_commit=database_down
            )
        after = transport.send(SENDER, "c@example.net", newsletter("c@example.net"))
    assert ok.ok and seen == [0] and after.ok
    # The message whose previous mark failed never reached the server: no final dot.
    assert [r["rcpt"] for r in sink.records] == ["a@example.net", "c@example.net"]
