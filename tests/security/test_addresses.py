"""Internationalised addresses: mailed end to end (SMTPUTF8 in MAIL FROM, a UTF-8 To
header) through a relay that offers SMTPUTF8, refused at sign-up and import with a clear
message when it does not, never accepted and then left unmailed. Real SMTP servers
(aiosmtpd, with and without SMTPUTF8), the real web app and the real CLI."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber
from dispatch.config import AppSettings, MailSettings, Settings, WebSettings, build_settings
from dispatch.db import session_scope
from dispatch.delivery import smtp as smtp_module
from dispatch.delivery import transactional
from dispatch.delivery.transport import for_settings
from dispatch.web.app import create_app
from tests.conftest import Cli
from tests.doorbells import Rings
from tests.security.conftest import csrf_of, subscription_form
from tests.smtp_sink import SmtpSink

INTERNATIONAL = "élodie.méhaignerie@exemple.fr"


@pytest.fixture(autouse=True)
def _fresh_probe() -> Iterator[None]:
    # Each test's relay is a new server on a new port; the probe's memory is per process.
    smtp_module._probed.clear()
    yield
    smtp_module._probed.clear()


@pytest.fixture(params=[True, False], ids=["relay with SMTPUTF8", "relay without"])
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    server = SmtpSink(smtputf8=request.param).start()
    yield server
    server.stop()


def _settings(tmp_path: Path, sink: SmtpSink, **mail: object) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var", base_url="http://testserver"),
        web=WebSettings(form_min_seconds=0),
        mail=MailSettings(
            transport="smtp",
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_timeout=5,
            **mail,  # type: ignore[arg-type]
        ),
    )


def _sign_up(settings: Settings, engine: Engine, address: str) -> tuple[int, str]:
    client = TestClient(create_app(settings, engine=engine, doorbell=Rings()))
    token = csrf_of(client.get("/").text)
    response = client.post("/subscribe", data=subscription_form(token, address))
    return response.status_code, response.text


def test_sign_up_with_an_internationalised_address(
    tmp_path: Path, sink: SmtpSink, web_engine: Engine, web_sessions: sessionmaker[Session]
) -> None:
    settings = _settings(tmp_path, sink)

    status, page = _sign_up(settings, web_engine, INTERNATIONAL)

    with session_scope(web_sessions) as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == INTERNATIONAL))
        if not sink.smtputf8:
            # Refused, in words the visitor understands, and nothing was recorded.
            assert status == 400
            assert "lettres accentuées ou non latines avant le @" in page
            assert person is None
            return
        assert status == 200 and person is not None
        outcome = transactional.send(
            session, settings, "confirm", person.id, for_settings(settings)
        )
    assert outcome is not None and outcome.ok, outcome
    (record,) = sink.records
    assert record["rcpt"] == INTERNATIONAL
    assert "SMTPUTF8" in [option.upper() for option in record["mail_options"]]
    message = email.message_from_bytes(record["content"], policy=email.policy.default)
    assert message["To"] == INTERNATIONAL  # a UTF-8 header (RFC 6532), not an encoded word
    assert f"To: {INTERNATIONAL}".encode() in record["content"]


def test_an_internationalised_domain_needs_no_smtputf8(
    tmp_path: Path, sink: SmtpSink, web_engine: Engine, web_sessions: sessionmaker[Session]
) -> None:
    settings = _settings(tmp_path, sink)
    address = "lea@exémple.fr"

    status, _ = _sign_up(settings, web_engine, address)

    assert status == 200
    with session_scope(web_sessions) as session:
        person = session.scalar(select(Subscriber).where(Subscriber.email == address))
        assert person is not None
        outcome = transactional.send(
            session, settings, "confirm", person.id, for_settings(settings)
        )
    assert outcome is not None and outcome.ok, outcome
    (record,) = sink.records
    assert record["rcpt"] == "lea@xn--exmple-cva.fr"
    assert "SMTPUTF8" not in [option.upper() for option in record["mail_options"]]


def test_import_and_add_refuse_what_the_relay_cannot_mail(
    cli: Cli, tmp_path: Path, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dispatch import config

    monkeypatch.setenv("DISPATCH_MAIL__TRANSPORT", "smtp")
    monkeypatch.setenv("DISPATCH_MAIL__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DISPATCH_MAIL__SMTP_PORT", str(sink.port))
    config.get_settings.cache_clear()
    people = tmp_path / "people.csv"
    people.write_text(f"email,name\nlea@example.org,Léa\n{INTERNATIONAL},Élodie\n", "utf-8")

    imported = cli("subscribers", "import", str(people), "--consent-source", "Salon 2026")
    added = cli("subscribers", "add", "zoé@example.org", "--consent-source", "Salon 2026")

    if sink.smtputf8:
        assert imported.exit_code == 0 and "2 subscriber(s) imported" in imported.stdout
        assert added.exit_code == 0
        return
    assert imported.exit_code == 1
    assert f"line 3 ({INTERNATIONAL}): email:" in imported.stderr
    assert "does not offer SMTPUTF8" in imported.stderr
    assert added.exit_code == 1 and "does not offer SMTPUTF8" in added.stderr
    with cli.sessions()() as session:
        assert session.scalars(select(Subscriber.email)).all() == []


def test_a_utf8_to_header_is_dkim_signed_as_sent() -> None:
    from dispatch.delivery.mime import DkimKey, MessageFactory
    from dispatch.editions import compose, samples

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    factory = MessageFactory(
        samples.sample_branding(),
        list_id="lettre.la27eregion.example",
        dkim=DkimKey(selector="s", domain="la27eregion.example", private_key=private),
    )
    compiled = compose.compile_edition(
        samples.sample_edition("newsletter", "fr"), samples.sample_branding()
    )
    reader = samples.sample_recipient("fr")
    message = compose.personalise(compiled, reader)
    message = dataclasses.replace(message, to_email=INTERNATIONAL)

    built = factory.build(message)

    assert built.recipient == INTERNATIONAL
    assert dkim.verify(built.data, dnsfunc=lambda name, timeout=5: record)


def test_settings_can_say_what_the_relay_does(tmp_path: Path) -> None:
    sink = SmtpSink(smtputf8=True).start()
    try:
        said_no = _settings(tmp_path, sink, smtputf8="no")
        assert smtp_module.relay_offers_smtputf8(said_no) is False
        outbox = build_settings(app=AppSettings(data_dir=tmp_path))
        assert smtp_module.relay_offers_smtputf8(outbox) is True
        assert sink.connections == 0  # neither asked the relay
    finally:
        sink.stop()
