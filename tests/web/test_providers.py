"""Provider webhooks: SES (SNS), Postmark, Mailgun, SendGrid and Brevo, with the payloads
their documentation shows, signed with test keys as each provider signs them (SNS with a
certificate served on loopback); forged, stale, replayed and unproven requests change nothing.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber, Suppression
from dispatch.config import AppSettings, MailSettings, ProviderSettings, Settings, build_settings
from dispatch.db import session_scope, utcnow
from dispatch.delivery import verp
from dispatch.delivery.bounces import providers
from dispatch.delivery.models import BounceEvent, Delivery
from dispatch.web.app import create_app
from tests import factories
from tests.delivery import bulk
from tests.doorbells import Rings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "delivery" / "providers"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
TOKEN = "postmark-and-brevo-shared-token"
MAILGUN_KEY = "key-mailgun-signing-for-tests"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# --- A loopback server for SNS: the signing certificate and the SubscribeURL --------------


class _Loopback(BaseHTTPRequestHandler):
    pem: bytes = b""
    visits: list[str] = []  # noqa: RUF012 - one server per test, reset by the fixture

    def do_GET(self) -> None:
        type(self).visits.append(self.path)
        body = self.pem if self.path.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Sns:
    """Signs SNS messages with a locally made certificate that a loopback server serves."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        handler = type("Handler", (_Loopback,), {"visits": []})
        handler.pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.handler = handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def sign(self, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
        signed = dict(message, SignatureVersion=version)
        signed["SigningCertURL"] = f"{self.base}/SimpleNotificationService-test.pem"
        names = providers._SNS_SIGNED[signed["Type"]]
        text = "".join(f"{n}\n{signed[n]}\n" for n in names if signed.get(n) is not None)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(self, ses: dict[str, Any], message_id: str = "22b80b92") -> dict[str, Any]:
        envelope = fixture("sns-notification.json")
        envelope.update(MessageId=message_id, TopicArn=TOPIC, Message=json.dumps(ses))
        return self.sign(envelope)


@pytest.fixture
def sns() -> Iterator[Sns]:
    server = Sns()
    yield server
    server.server.shutdown()


# --- The application, a sent delivery and its proof --------------------------------------


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine, factory = bulk.migrated(bulk.sqlite_url(tmp_path))
    yield factory
    engine.dispose()


def _settings(tmp_path: Path, sns: Sns | None = None, **providers_options: Any) -> Settings:
    options: dict[str, Any] = {
        "sns_topic_arns": [TOPIC],
        "postmark_webhook_token": SecretStr(TOKEN),
        "brevo_webhook_token": SecretStr(TOKEN),
        "mailgun_signing_key": SecretStr(MAILGUN_KEY),
    }
    if sns is not None:
        options["sns_certificate_url"] = rf"^{sns.base}/"
    options.update(providers_options)
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        mail=MailSettings(),
        providers=ProviderSettings(**options),
    )


def _client(settings: Settings, sessions: sessionmaker[Session]) -> TestClient:
    return TestClient(create_app(settings, engine=sessions.kw["bind"], doorbell=Rings()))


class Sent:
    """One delivery marked sent to `email`, and how a provider echoes its proof back."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, email: str) -> None:
        self.sessions = sessions
        self.email = email
        with session_scope(sessions) as session:
            person = factories.subscriber(session, email=email)
            edition = factories.edition(session, status="sent")
            row = Delivery(
                edition_id=edition.id, subscriber_id=person.id, status="sent", sent_at=utcnow()
            )
            session.add(row)
            session.flush()
            self.delivery_id, self.subscriber_id = row.id, person.id
            self.token = verp.make_token(row.id, settings.secret_key)
            self.message_id = f"<{self.token}.e{edition.id}@dispatch.localhost>"

    def reader(self) -> tuple[str, str | None, bool]:
        """(subscriber status, delivery status, suppressed)."""
        with self.sessions() as session:
            person = session.get(Subscriber, self.subscriber_id)
            row = session.get(Delivery, self.delivery_id)
            suppressed = session.scalar(select(Suppression.id).limit(1)) is not None
            assert person is not None and row is not None
            return person.status, row.status, suppressed


def _ses(name: str, sent: Sent, *, header: bool) -> dict[str, Any]:
    """An SES example notification about `sent`: its proof in the original headers."""
    payload = copy.deepcopy(fixture(name))
    for key in ("bounce", "complaint"):
        for person in (payload.get(key) or {}).get(
            "bouncedRecipients" if key == "bounce" else "complainedRecipients", []
        ):
            person["emailAddress"] = sent.email
    mail = payload["mail"]
    if header:
        mail["headers"].append({"name": verp.DELIVERY_HEADER, "value": sent.token})
    else:
        mail["commonHeaders"]["messageId"] = sent.message_id
    return payload


# --- Amazon SES through SNS ---------------------------------------------------------------


def test_ses_bounce_signed_by_sns_suppresses_the_reader_once(
    tmp_path: Path, sessions: sessionmaker[Session], sns: Sns
) -> None:
    settings = _settings(tmp_path, sns)
    sent = Sent(sessions, settings, "jane@example.org")
    client = _client(settings, sessions)
    message = sns.notification(_ses("ses-bounce.json", sent, header=True))

    response = client.post("/hooks/ses", content=json.dumps(message))
    assert response.status_code == 200 and response.json()["applied"] == 1
    assert sent.reader() == ("bounced", "bounced", True)
    # The same message again (SNS retries, or a replay) is done already.
    again = client.post("/hooks/ses", content=json.dumps(message))
    assert again.status_code == 200 and again.json()["already_done"] == 1
    with sessions() as session:
        assert len(session.scalars(select(BounceEvent)).all()) == 1


def test_ses_complaint_proven_by_our_message_id_and_signature_version_1(
    tmp_path: Path, sessions: sessionmaker[Session], sns: Sns
) -> None:
    settings = _settings(tmp_path, sns)
    sent = Sent(sessions, settings, "richard@example.org")
    envelope = fixture("sns-notification.json")
    envelope.update(
        TopicArn=TOPIC, Message=json.dumps(_ses("ses-complaint.json", sent, header=False))
    )
    response = _client(settings, sessions).post(
        "/hooks/ses", content=json.dumps(sns.sign(envelope, version="1"))
    )
    assert response.status_code == 200 and response.json()["applied"] == 1
    assert sent.reader()[0] == "complained"


def test_forged_or_misplaced_sns_messages_are_refused(
    tmp_path: Path, sessions: sessionmaker[Session], sns: Sns
) -> None:
    settings = _settings(tmp_path, sns)
    sent = Sent(sessions, settings, "jane@example.org")
    client = _client(settings, sessions)
    message = sns.notification(_ses("ses-bounce.json", sent, header=True))

    forged = dict(message, Message=message["Message"].replace("Permanent", "Transient"))
    assert client.post("/hooks/ses", content=json.dumps(forged)).status_code == 401
    elsewhere = dict(message, SigningCertURL="https://attacker.example/cert.pem")
    assert client.post("/hooks/ses", content=json.dumps(elsewhere)).status_code == 401
    other_topic = sns.sign(dict(message, TopicArn="arn:aws:sns:us-west-2:666:Other"))
    assert client.post("/hooks/ses", content=json.dumps(other_topic)).status_code == 403
    assert sent.reader() == ("active", "sent", False)
    closed = _client(_settings(tmp_path, sns, sns_topic_arns=[]), sessions)
    assert closed.post("/hooks/ses", content=json.dumps(message)).status_code == 404


def test_an_sns_subscription_is_confirmed_at_its_subscribe_url(
    tmp_path: Path, sessions: sessionmaker[Session], sns: Sns
) -> None:
    settings = _settings(tmp_path, sns)
    confirmation = fixture("sns-subscription-confirmation.json")
    confirmation["SubscribeURL"] = f"{sns.base}/?Action=ConfirmSubscription&Token=2336412f37fb"
    response = _client(settings, sessions).post(
        "/hooks/ses", content=json.dumps(sns.sign(confirmation))
    )
    assert response.status_code == 200 and response.json()["confirmed"] is True
    assert "/?Action=ConfirmSubscription&Token=2336412f37fb" in sns.handler.visits


# --- Postmark and Brevo: a shared secret -------------------------------------------------


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"dispatch:{password}".encode()).decode()


def test_postmark_bounce_and_complaint_need_the_password_and_the_metadata(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    settings = _settings(tmp_path)
    sent = Sent(sessions, settings, "john@example.org")
    client = _client(settings, sessions)
    bounce = fixture("postmark-bounce.json")
    bounce.update(Email=sent.email, Metadata={providers.ECHO_KEY: sent.token, "a_key": "a"})
    body = json.dumps(bounce)

    wrong = client.post("/hooks/postmark", content=body, headers={"Authorization": _basic("x")})
    assert wrong.status_code == 401
    assert client.post("/hooks/postmark", content=body).status_code == 401
    # Postmark's own bounce without our metadata proves nothing: nothing changes.
    plain = client.post(
        "/hooks/postmark",
        content=json.dumps(dict(fixture("postmark-bounce.json"), Email=sent.email)),
        headers={"Authorization": _basic(TOKEN)},
    )
    assert plain.status_code == 200 and plain.json()["unproven"] == 1
    assert sent.reader() == ("active", "sent", False)

    ok = client.post("/hooks/postmark", content=body, headers={"Authorization": _basic(TOKEN)})
    assert ok.status_code == 200 and ok.json()["applied"] == 1
    assert sent.reader() == ("bounced", "bounced", True)
    replay = client.post("/hooks/postmark", content=body, headers={"Authorization": _basic(TOKEN)})
    assert replay.json()["already_done"] == 1


def test_postmark_spam_complaint(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    settings = _settings(tmp_path)
    sent = Sent(sessions, settings, "john@example.org")
    complaint = fixture("postmark-spam-complaint.json")
    complaint.update(Email=sent.email, Metadata={providers.ECHO_KEY: sent.token})
    response = _client(settings, sessions).post(
        "/hooks/postmark", content=json.dumps(complaint), headers={"Authorization": _basic(TOKEN)}
    )
    assert response.json()["applied"] == 1 and sent.reader()[0] == "complained"


def test_brevo_hard_bounce_with_a_bearer_token_and_the_custom_header(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    settings = _settings(tmp_path)
    sent = Sent(sessions, settings, "example@domain.org")
    event = fixture("brevo-hard-bounce.json")
    event.update({"email": sent.email, "X-Mailin-custom": sent.token})
    client = _client(settings, sessions)
    refused = client.post(
        "/hooks/brevo", content=json.dumps(event), headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401
    response = client.post(
        "/hooks/brevo", content=json.dumps(event), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.json()["applied"] == 1 and sent.reader()[1] == "bounced"


# --- Mailgun: HMAC of timestamp and token ------------------------------------------------


def _mailgun(payload: dict[str, Any], *, at: float | None = None) -> dict[str, Any]:
    timestamp, token = str(int(at or time.time())), "a8ce0edb2dd8301dee6c2405235584e45aa91d1e"
    digest = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256)
    return dict(
        payload,
        signature={"timestamp": timestamp, "token": token, "signature": digest.hexdigest()},
    )


def test_mailgun_permanent_failure_signed_recent_and_proven(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    settings = _settings(tmp_path)
    sent = Sent(sessions, settings, "alice@example.org")
    payload = fixture("mailgun-permanent-failure.json")
    payload["event-data"]["recipient"] = sent.email
    payload["event-data"]["user-variables"][providers.ECHO_KEY] = sent.token
    client = _client(settings, sessions)

    # As documented, signed with Mailgun's key, not ours: refused.
    assert client.post("/hooks/mailgun", content=json.dumps(payload)).status_code == 401
    stale = _mailgun(payload, at=time.time() - 3600)
    assert client.post("/hooks/mailgun", content=json.dumps(stale)).status_code == 403
    assert sent.reader() == ("active", "sent", False)
    fresh = client.post("/hooks/mailgun", content=json.dumps(_mailgun(payload)))
    assert fresh.status_code == 200 and fresh.json()["applied"] == 1
    assert sent.reader() == ("bounced", "bounced", True)


# --- SendGrid: ECDSA over timestamp and body ---------------------------------------------


def test_sendgrids_own_signed_request_verifies() -> None:
    """A request signed by SendGrid, from its libraries' test vectors: the same code path."""
    signed = fixture("sendgrid-signed.json")
    settings = build_settings(providers=ProviderSettings(sendgrid_public_key=signed["public_key"]))
    body = signed["body"].encode()
    at = float(signed["timestamp"])
    providers.verify_sendgrid(body, signed["signature"], signed["timestamp"], settings, now=at)
    with pytest.raises(providers.WebhookRefusedError):
        providers.verify_sendgrid(
            body + b" ", signed["signature"], signed["timestamp"], settings, now=at
        )
    with pytest.raises(providers.WebhookRefusedError):  # the same request a day later
        providers.verify_sendgrid(
            body, signed["signature"], signed["timestamp"], settings, now=at + 86400
        )


def test_sendgrid_events_signed_with_our_key(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    settings = _settings(tmp_path, sendgrid_public_key=public)
    bounced = Sent(sessions, settings, "bounced@test.org")
    events = fixture("sendgrid-events.json")
    events[0].update(email=bounced.email, **{providers.ECHO_KEY: bounced.token})
    body = json.dumps(events).encode()

    def headers(data: bytes, at: float) -> dict[str, str]:
        stamp = str(int(at))
        signature = key.sign(stamp.encode() + data, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }

    client = _client(settings, sessions)
    tampered = body.replace(b"bounce", b"blocked", 1)
    assert (
        client.post(
            "/hooks/sendgrid", content=tampered, headers=headers(body, time.time())
        ).status_code
        == 401
    )
    old = client.post("/hooks/sendgrid", content=body, headers=headers(body, time.time() - 3600))
    assert old.status_code == 403
    response = client.post("/hooks/sendgrid", content=body, headers=headers(body, time.time()))
    # The bounce proves its row; the spam report (not ours) proves nothing; delivered: ignored.
    assert response.json() == {
        "applied": 1, "already_done": 0, "unproven": 1, "ignored": 1, "confirmed": False
    }  # fmt: skip
    assert bounced.reader() == ("bounced", "bounced", True)


# --- Proof: the token must be valid and the address its reader's ---------------------------


def test_a_valid_token_for_another_reader_proves_nothing(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    settings = _settings(tmp_path)
    mine, other = Sent(sessions, settings, "me@example.org"), Sent(sessions, settings, "o@x.org")
    bounce = fixture("postmark-bounce.json")
    bounce.update(Email=other.email, Metadata={providers.ECHO_KEY: mine.token})
    response = _client(settings, sessions).post(
        "/hooks/postmark", content=json.dumps(bounce), headers={"Authorization": _basic(TOKEN)}
    )
    assert response.json()["unproven"] == 1
    assert mine.reader()[0] == other.reader()[0] == "active"
    forged = verp.make_token(mine.delivery_id, "not-our-secret")
    bounce.update(Email=mine.email, Metadata={providers.ECHO_KEY: forged}, ID=7)
    response = _client(settings, sessions).post(
        "/hooks/postmark", content=json.dumps(bounce), headers={"Authorization": _basic(TOKEN)}
    )
    assert response.json()["unproven"] == 1 and mine.reader()[0] == "active"
