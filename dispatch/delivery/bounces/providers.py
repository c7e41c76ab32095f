"""Bounces and complaints reported by email providers' webhooks: verified, read, applied.

Each provider proves its requests its own documented way: Amazon SNS (for SES) signs every
message with a certificate it serves; SendGrid signs with ECDSA; Mailgun with an HMAC of a
timestamp and a token; Postmark and Brevo send a secret agreed on (HTTP Basic password or
Bearer token). `verify_*` raise `WebhookRefusedError` for anything else; `*_events` read the
documented payloads into `ProviderEvent`s.

An event then acts only on a delivery it proves, like a mailbox bounce: through our own
Message-ID, which carries the signed delivery token (`sending.build_message`), or the signed
token echoed back — the `X-Dispatch-Delivery` header (SES, with original headers included)
or the provider's own custom-data header that `echo_header` adds when `mail.provider` is set.
The event's address must also be that delivery's reader. A proven event goes through
`handling.apply_report`, the same processing as mailbox bounces, once per event id (a replay
finds its `source_ref` done); an event that proves nothing changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy.orm import Session

from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.delivery import verp
from dispatch.delivery.bounces.handling import apply_report
from dispatch.delivery.bounces.reports import BounceKind, BounceReport
from dispatch.delivery.models import Delivery

#: The key under which providers' custom-data headers carry the signed delivery token.
ECHO_KEY = "dispatch_delivery"
_MESSAGE_ID_TOKEN = re.compile(r"<?(d\d{1,18}-[0-9a-f]{12})\.e\d+@", re.IGNORECASE)


class WebhookRefusedError(Exception):
    """The request is not the provider's (or not fresh): answered with `status`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ProviderEvent:
    """One bounce or complaint as a provider reports it."""

    kind: BounceKind
    address: str
    source_ref: str  # unique per event: a replay is recognised by it
    tokens: tuple[str, ...] = ()  # what the provider echoed back: tokens, Message-IDs
    status: str | None = None
    diagnostic: str = ""


@dataclass
class WebhookResult:
    applied: int = 0
    already_done: int = 0
    unproven: int = 0  # events whose delivery could not be proven: nothing was changed
    ignored: int = 0  # events that are neither bounces nor complaints (deliveries, opens…)
    confirmed: bool = False  # an SNS subscription was confirmed
    outcomes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "already_done": self.already_done,
            "unproven": self.unproven,
            "ignored": self.ignored,
            "confirmed": self.confirmed,
        }


def echo_header(provider: str, token: str) -> tuple[str, str] | None:
    """The header that makes `provider` echo the delivery token back in its webhooks."""
    if provider == "postmark":
        return f"X-PM-Metadata-{ECHO_KEY}", token
    if provider == "mailgun":
        return "X-Mailgun-Variables", json.dumps({ECHO_KEY: token})
    if provider == "sendgrid":
        return "X-SMTPAPI", json.dumps({"unique_args": {ECHO_KEY: token}})
    if provider == "brevo":
        return "X-Mailin-custom", token
    return None  # SES returns the original headers, X-Dispatch-Delivery among them


# --- Proof and application --------------------------------------------------------------


def proven_delivery(session: Session, settings: Settings, event: ProviderEvent) -> int | None:
    """The delivery `event` proves (a valid signed token whose reader is its address)."""
    secret = settings.secret_key
    for echoed in event.tokens:
        match = _MESSAGE_ID_TOKEN.search(echoed)
        delivery_id = verp.read_token(match.group(1) if match else echoed, secret)
        if delivery_id is None:
            continue
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.subscriber_id is None:
            return None
        reader = session.get(Subscriber, delivery.subscriber_id)
        if reader is None or reader.email.lower() != event.address.strip().lower():
            return None
        return delivery_id
    return None


def apply_events(
    session: Session, settings: Settings, events: Iterable[ProviderEvent | None]
) -> WebhookResult:
    """Apply the events that prove their delivery, each once. Flushes."""
    result = WebhookResult()
    for event in events:
        if event is None:
            result.ignored += 1
            continue
        delivery_id = proven_delivery(session, settings, event)
        if delivery_id is None:
            result.unproven += 1
            continue
        report = BounceReport(
            kind=event.kind,
            delivery_id=delivery_id,
            recipients=(event.address,),
            status=event.status,
            diagnostic=event.diagnostic,
        )
        outcome = apply_report(session, settings, report, source_ref=event.source_ref)
        result.outcomes.append(outcome)
        if outcome == "already_done":
            result.already_done += 1
        else:
            result.applied += 1
    return result


# --- Verification ----------------------------------------------------------------------


def _fresh(timestamp: str, settings: Settings, now: float | None) -> None:
    try:
        when = float(timestamp)
    except ValueError:
        raise WebhookRefusedError(403, "the signature's timestamp is not a number") from None
    age = (time.time() if now is None else now) - when
    if abs(age) > settings.providers.max_age_seconds:
        raise WebhookRefusedError(403, f"the signature is {age:.0f} s old: refused as a replay")


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def verify_shared_secret(authorization: str, secret: Any, provider: str) -> None:
    """Postmark and Brevo: the agreed secret as a Bearer token or a Basic password."""
    expected = _secret(secret)
    if not expected:
        raise WebhookRefusedError(404, f"the {provider} webhook is not configured")
    scheme, _, value = authorization.strip().partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            given = ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRefusedError(401, f"not signed by {provider}")


def verify_mailgun(
    payload: Mapping[str, Any], settings: Settings, now: float | None = None
) -> None:
    """Mailgun: HMAC-SHA256 of timestamp + token with the webhook signing key, recent."""
    key = _secret(settings.providers.mailgun_signing_key)
    if not key:
        raise WebhookRefusedError(404, "the mailgun webhook is not configured")
    signature = payload.get("signature")
    if not isinstance(signature, dict):
        raise WebhookRefusedError(401, "no Mailgun signature")
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(str(signature.get("signature", "")).encode(), expected.encode()):
        raise WebhookRefusedError(401, "not signed by Mailgun")
    _fresh(timestamp, settings, now)


def verify_sendgrid(
    body: bytes, signature: str, timestamp: str, settings: Settings, now: float | None = None
) -> None:
    """SendGrid: ECDSA (P-256, SHA-256) over timestamp + raw body, with its public key."""
    encoded = settings.providers.sendgrid_public_key.strip()
    if not encoded:
        raise WebhookRefusedError(404, "the sendgrid webhook is not configured")
    try:
        key = serialization.load_der_public_key(base64.b64decode(encoded))
        der = base64.b64decode(signature, validate=True)
    except ValueError:
        raise WebhookRefusedError(401, "not signed by SendGrid") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise WebhookRefusedError(500, "providers.sendgrid_public_key is not an ECDSA key")
    try:
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise WebhookRefusedError(401, "not signed by SendGrid") from None
    _fresh(timestamp, settings, now)


_SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SNS_SIGNED["UnsubscribeConfirmation"] = _SNS_SIGNED["SubscriptionConfirmation"]

Fetch = Callable[[str], bytes]


@lru_cache(maxsize=16)
def _certificate(url: str, fetch: Fetch) -> x509.Certificate:
    return x509.load_pem_x509_certificate(fetch(url))


def verify_sns(
    message: Mapping[str, Any], settings: Settings, fetch: Fetch, now: float | None = None
) -> None:
    """SNS: the signature over the documented fields, with the certificate SNS serves at
    `SigningCertURL` (only from where `providers.sns_certificate_url` allows), for an
    accepted topic."""
    kind = str(message.get("Type", ""))
    if kind not in _SNS_SIGNED:
        raise WebhookRefusedError(400, f"not an SNS message type: {kind!r}")
    topics = settings.providers.sns_topic_arns
    if not topics:
        raise WebhookRefusedError(
            404, "the SES webhook is not configured (providers.sns_topic_arns)"
        )
    if message.get("TopicArn") not in topics:
        raise WebhookRefusedError(403, f"topic {message.get('TopicArn')!r} is not accepted")
    url = str(message.get("SigningCertURL", ""))
    if not re.match(settings.providers.sns_certificate_url, url):
        raise WebhookRefusedError(401, f"signing certificate from an unexpected place: {url!r}")
    text = "".join(
        f"{name}\n{message[name]}\n" for name in _SNS_SIGNED[kind] if message.get(name) is not None
    ).encode()
    version = str(message.get("SignatureVersion", ""))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 - SNS's own signature version 1
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise WebhookRefusedError(401, f"unknown SNS signature version {version!r}")
    try:
        certificate = _certificate(url, fetch)
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except Exception:  # an unreachable or unreadable certificate proves nothing
        raise WebhookRefusedError(401, "the SNS signing certificate could not be read") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRefusedError(401, "the SNS signing certificate is not RSA")
    try:
        key.verify(signature, text, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise WebhookRefusedError(401, "not signed by SNS") from None


# --- Reading the documented payloads ----------------------------------------------------


def _kind(value: str, hard: Iterable[str], soft: Iterable[str], complaint: Iterable[str]) -> Any:
    if value in hard:
        return BounceKind.HARD
    if value in soft:
        return BounceKind.SOFT
    if value in complaint:
        return BounceKind.COMPLAINT
    return None


def ses_events(sns_message_id: str, notification: Mapping[str, Any]) -> list[ProviderEvent | None]:
    """An SES notification (or event publishing record) carried by SNS."""
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail") or {}
    echoed = [
        str(h.get("value", ""))
        for h in mail.get("headers") or []
        if str(h.get("name", "")).lower() in (verp.DELIVERY_HEADER.lower(), "message-id")
    ]
    common = mail.get("commonHeaders") or {}
    if common.get("messageId"):
        echoed.append(str(common["messageId"]))
    events: list[ProviderEvent | None] = []
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        hard = bounce.get("bounceType") == "Permanent"
        for n, person in enumerate(bounce.get("bouncedRecipients") or []):
            events.append(
                ProviderEvent(
                    BounceKind.HARD if hard else BounceKind.SOFT,
                    str(person.get("emailAddress", "")),
                    f"ses:{sns_message_id}:{n}",
                    tuple(echoed),
                    person.get("status"),
                    str(person.get("diagnosticCode") or bounce.get("bounceSubType") or ""),
                )
            )
    elif kind == "Complaint":
        complaint = notification.get("complaint") or {}
        for n, person in enumerate(complaint.get("complainedRecipients") or []):
            events.append(
                ProviderEvent(
                    BounceKind.COMPLAINT,
                    str(person.get("emailAddress", "")),
                    f"ses:{sns_message_id}:{n}",
                    tuple(echoed),
                    diagnostic=str(complaint.get("complaintFeedbackType") or "complaint"),
                )
            )
    return events or [None]


def postmark_events(payload: Mapping[str, Any]) -> list[ProviderEvent | None]:
    record = payload.get("RecordType")
    kind = _kind(
        str(payload.get("Type", "")),
        hard=("HardBounce", "BadEmailAddress", "ManuallyDeactivated"),
        soft=("SoftBounce", "Transient", "DnsError"),
        complaint=("SpamComplaint", "SpamNotification"),
    )
    if record not in ("Bounce", "SpamComplaint") or kind is None:
        return [None]
    metadata = payload.get("Metadata") or {}
    return [
        ProviderEvent(
            kind,
            str(payload.get("Email", "")),
            f"postmark:{record}:{payload.get('ID')}",
            tuple(str(v) for k, v in metadata.items() if k == ECHO_KEY),
            diagnostic=str(payload.get("Details") or payload.get("Description") or ""),
        )
    ]


def mailgun_events(payload: Mapping[str, Any]) -> list[ProviderEvent | None]:
    data = payload.get("event-data") or {}
    event, severity = data.get("event"), data.get("severity")
    if event == "failed":
        kind = BounceKind.HARD if severity == "permanent" else BounceKind.SOFT
    elif event == "complained":
        kind = BounceKind.COMPLAINT
    else:
        return [None]
    headers = (data.get("message") or {}).get("headers") or {}
    variables = data.get("user-variables") or {}
    status = data.get("delivery-status") or {}
    echoed = [str(variables[ECHO_KEY])] if ECHO_KEY in variables else []
    if headers.get("message-id"):
        echoed.append(f"<{headers['message-id']}>")
    return [
        ProviderEvent(
            kind,
            str(data.get("recipient", "")),
            f"mailgun:{data.get('id')}",
            tuple(echoed),
            str(status.get("code")) if status.get("code") else None,
            str(status.get("description") or status.get("message") or data.get("reason") or ""),
        )
    ]


def sendgrid_events(payload: list[Any]) -> list[ProviderEvent | None]:
    events: list[ProviderEvent | None] = []
    for item in payload:
        if not isinstance(item, dict):
            events.append(None)
            continue
        name, reason = item.get("event"), str(item.get("reason") or "")
        kind = None
        if name == "bounce":
            kind = BounceKind.SOFT if item.get("type") == "blocked" else BounceKind.HARD
        elif name == "spamreport":
            kind = BounceKind.COMPLAINT
        elif name == "dropped" and reason in ("Bounced Address", "Invalid"):
            kind = BounceKind.HARD
        elif name == "dropped" and reason == "Spam Reporting Address":
            kind = BounceKind.COMPLAINT
        if kind is None:
            events.append(None)
            continue
        echoed = [str(item[ECHO_KEY])] if ECHO_KEY in item else []
        if item.get("smtp-id"):
            echoed.append(str(item["smtp-id"]))
        events.append(
            ProviderEvent(
                kind,
                str(item.get("email", "")),
                f"sendgrid:{item.get('sg_event_id')}",
                tuple(echoed),
                str(item.get("status")) if item.get("status") else None,
                reason,
            )
        )
    return events


def brevo_events(payload: Mapping[str, Any]) -> list[ProviderEvent | None]:
    kind = _kind(
        str(payload.get("event", "")),
        hard=("hard_bounce", "invalid_email"),
        soft=("soft_bounce",),
        complaint=("spam", "complaint"),
    )
    if kind is None:
        return [None]
    echoed = [str(payload["X-Mailin-custom"])] if payload.get("X-Mailin-custom") else []
    if payload.get("message-id"):
        echoed.append(str(payload["message-id"]))
    ref = f"{payload.get('message-id')}:{payload.get('event')}:{payload.get('ts_event')}"
    return [
        ProviderEvent(
            kind,
            str(payload.get("email", "")),
            f"brevo:{ref}",
            tuple(echoed),
            diagnostic=str(payload.get("reason") or ""),
        )
    ]
