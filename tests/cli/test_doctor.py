"""`dispatch doctor` against real parts: a database, an SMTP server with STARTTLS and AUTH,
and a DNS server on loopback answering for the sending domain."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dispatch import config, doorbell, health, migrate
from dispatch.db import session_scope, utcnow
from dispatch.delivery.dkim import DkimKey, public_record
from tests.conftest import Cli
from tests.doorbells import Rings
from tests.smtp_sink import SmtpSink

DOMAIN = "la27eregion.example"


class DnsServer:
    """Answers TXT queries from `records` over UDP on loopback (real DNS messages)."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            texts = self.records.get(name, [])
            if texts and question.rdtype == dns.rdatatype.TXT:
                quoted = [
                    " ".join(f'"{t[i : i + 200]}"' for i in range(0, len(t), 200)) for t in texts
                ]
                response.answer.append(
                    dns.rrset.from_text(question.name, 300, "IN", "TXT", *quoted)
                )
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer()
    yield server
    server.close()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[SmtpSink]:
    with SmtpSink(security="starttls", auth=("lettre", "mot-de-passe"), cert_dir=tmp_path) as sink:
        yield sink


def _deployment(monkeypatch: pytest.MonkeyPatch, relay: SmtpSink, key: DkimKey) -> None:
    assert relay.cert_path is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(relay.cert_path))  # trust the relay's certificate
    for name, value in {
        "MAIL__TRANSPORT": "smtp",
        "MAIL__SMTP_HOST": "localhost",
        "MAIL__SMTP_PORT": str(relay.port),
        "MAIL__SMTP_SECURITY": "starttls",
        "MAIL__SMTP_USERNAME": "lettre",
        "MAIL__SMTP_PASSWORD": "mot-de-passe",
        "MAIL__FROM_ADDRESS": f"lettre@{DOMAIN}",
        "MAIL__DKIM_DOMAIN": DOMAIN,
        "MAIL__DKIM_ED25519_SELECTOR": key.selector,
        "MAIL__DKIM_ED25519_PRIVATE_KEY": key.private_key.decode(),
    }.items():
        monkeypatch.setenv(f"DISPATCH_{name}", value)
    config.get_settings.cache_clear()
    monkeypatch.setattr(doorbell, "_installed", Rings())


def _beats(cli: Cli, *names: str, age: timedelta = timedelta(0)) -> None:
    with session_scope(cli.sessions()) as session:
        for name in names:
            health.beat(session, name)
            row = session.get(health.Heartbeat, name)
            assert row is not None
            row.at = utcnow() - age


@pytest.fixture
def key() -> DkimKey:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DkimKey("ed2026", DOMAIN, pem)


def test_a_healthy_deployment_passes_and_shows_the_dns_answers(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, relay: SmtpSink, dns_server: DnsServer, key: DkimKey
) -> None:
    _deployment(monkeypatch, relay, key)
    _beats(cli, "worker", "beat:vm/4242")
    record = public_record(key)
    dns_server.records[f"ed2026._domainkey.{DOMAIN}"] = [record]
    dns_server.records[f"_dmarc.{DOMAIN}"] = ["v=DMARC1; p=none"]

    result = cli("doctor", "--nameserver", dns_server.address)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ok    database" in out and "ok    migrations" in out and "ok    broker" in out
    assert "one beat running (vm/4242)" in out and "ok    workers" in out
    assert "TLS" in out and "AUTH as lettre" in out
    assert f"ed2026._domainkey.{DOMAIN} publishes the key: {record}" in out
    # No SPF record for the envelope domain: advice, with the record to publish.
    assert f"warn  spf: {DOMAIN}" in out and "fix: publish at" in out
    assert relay.records == []  # nothing was sent


def test_what_is_broken_is_named_with_its_fix(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, relay: SmtpSink, dns_server: DnsServer, key: DkimKey
) -> None:
    _deployment(monkeypatch, relay, key)
    monkeypatch.setenv("DISPATCH_MAIL__SMTP_PASSWORD", "wrong")
    config.get_settings.cache_clear()
    _beats(cli, "beat:vm/1", "beat:vm/2")  # two beats, no worker
    _beats(cli, "worker", age=timedelta(minutes=10))
    dns_server.records[f"ed2026._domainkey.{DOMAIN}"] = [
        "v=DKIM1; k=ed25519; p=" + base64.b64encode(b"\0" * 32).decode()
    ]

    result = cli("doctor", "--nameserver", dns_server.address)
    assert result.exit_code == 1
    out = result.output
    assert "FAIL  beat: 2 beats running" in out and "run exactly one `dispatch beat`" in out
    assert "FAIL  workers" in out
    assert "FAIL  smtp" in out and "authentication refused" in out
    assert "FAIL  dkim ed2026" in out and public_record(key) in out


def test_migrations_behind_and_offline(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, relay: SmtpSink, key: DkimKey
) -> None:
    _deployment(monkeypatch, relay, key)
    from alembic import command

    config_ = migrate.alembic_config()
    with cli.engine.begin() as connection:
        config_.attributes["connection"] = connection
        command.downgrade(config_, "0002")
    result = cli("doctor", "--offline")
    assert result.exit_code == 1
    assert "FAIL  migrations" in result.output and "dispatch db upgrade" in result.output
    migrate.upgrade(cli.engine)
    _beats(cli, "worker", "beat:vm/7")
    result = cli("doctor", "--offline", "--json")
    assert result.exit_code == 0, result.output
    assert '"name": "dns"' in result.output and '"status": "skip"' in result.output
