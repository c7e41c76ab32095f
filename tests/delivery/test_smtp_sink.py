"""The test SMTP server itself, run as a process the way end-to-end tests and bench use it."""

from __future__ import annotations

import json
import smtplib
import time

from dispatch.delivery.smtp import SmtpTransport
from dispatch.delivery.transport import SendStatus
from tests.delivery.conftest import newsletter
from tests.smtp_sink import Faults, SinkProcess, client_context, read_records


def test_process_records_one_json_line_per_message(tmp_path):
    record = tmp_path / "mail.jsonl"
    faults = Faults(rcpt_550=["gone@example.net"])
    with SinkProcess(record=record, faults=faults) as sink:
        with SmtpTransport("127.0.0.1", sink.port, security="none", timeout=5) as transport:
            sent = [
                transport.send("b@x.org", f"r{i}@example.net", newsletter("x")) for i in range(3)
            ]
            gone = transport.send("b@x.org", "gone@example.net", newsletter("x"))
        # Flushed per message: readable while the server still runs.
        records = sink.records()
    assert [o.status for o in sent] == [SendStatus.SENT] * 3
    assert gone.status is SendStatus.BOUNCED
    assert [r["rcpt"] for r in records] == ["r0@example.net", "r1@example.net", "r2@example.net"]
    assert len({r["message_id"] for r in records}) == 3
    assert all(r["mail_from"] == "b@x.org" and r["acknowledged"] for r in records)
    assert read_records(record) == records


def test_process_with_starttls_and_auth(tmp_path):
    with SinkProcess(
        record=tmp_path / "mail.jsonl",
        security="starttls",
        auth=("lettre", "pw"),
        cert_dir=tmp_path / "certs",
    ) as sink:
        assert sink.cert_path is not None
        with SmtpTransport(
            "127.0.0.1",
            sink.port,
            security="starttls",
            username="lettre",
            password="pw",
            ssl_context=client_context(sink.cert_path),
        ) as transport:
            assert transport.send("b@x.org", "a@example.net", newsletter("a@example.net")).ok
        [record] = sink.records()
    assert record["tls"]
    assert record["auth"] == "lettre"


def test_count_only_mode_counts_without_recording_messages(tmp_path):
    counts = tmp_path / "counts.json"
    with SinkProcess(record=counts, count_only=True) as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
            for i in range(20):
                smtp.sendmail("b@x.org", [f"r{i}@example.net"], newsletter("x"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if counts.exists() and json.loads(counts.read_text())["messages"] == 20:
                break
            time.sleep(0.1)
    assert json.loads(counts.read_text()) == {"messages": 20, "connections": 1}
