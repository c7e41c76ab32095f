"""Reading bounces and complaints: which delivery and which addresses failed, hard or soft.

A bounce is matched to its delivery by the signed VERP return path first; the failing
addresses come from RFC 3464 delivery status notifications and, for the many servers that
do not follow it, from ``flufl.bounce``'s detectors. RFC 5965 (ARF) feedback reports are
complaints. This module only reads messages; the delivery service acts on the reports.
"""

from __future__ import annotations

import dataclasses
import email
import email.message
import email.policy
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from dispatch.delivery import verp


class BounceKind(enum.StrEnum):
    HARD = "hard"  # the address is gone: suppress it
    SOFT = "soft"  # mailbox full, greylisted, delayed…: count towards a threshold
    COMPLAINT = "complaint"  # the recipient reported the message as spam


@dataclass(frozen=True)
class FailedRecipient:
    address: str
    permanent: bool
    status: str | None = None  # RFC 3463, e.g. "5.1.1"
    diagnostic: str = ""


@dataclass(frozen=True)
class BounceReport:
    """What one bounce or complaint message says.

    ``recipients`` are the addresses ``kind`` applies to (for a bounce that mixes permanent
    and temporary failures, ``kind`` is hard and ``recipients`` the permanent ones; every
    failure is in ``failures``). ``delivery_id`` is None when no signed VERP address or
    delivery header was found: nothing proves which delivery the message is about, so the
    caller holds it for staff rather than act on the addresses it names. ``origin`` is the
    message's sender and subject, for staff looking at a held report.
    """

    kind: BounceKind
    delivery_id: int | None
    recipients: tuple[str, ...]
    status: str | None = None
    diagnostic: str = ""
    failures: tuple[FailedRecipient, ...] = ()
    feedback_type: str | None = None  # complaints only: abuse, fraud, virus, other
    origin: str = ""

    @property
    def hard(self) -> bool:
        return self.kind is BounceKind.HARD


# Headers where a delivering MTA records the envelope recipient of the bounce itself.
_ENVELOPE_HEADERS = (
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "X-Delivered-To",
    "X-Rcpt-To",
    "To",
    "Cc",
)
_COMPLAINT_TYPES = {"abuse", "fraud", "virus", "other"}
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([245])\d\d\b")
_NEXT_RECIPIENT = re.compile(r"^<[^<>\s]+@[^<>\s]+>:$")
_MAILBOX_FULL = re.compile(
    r"\b[45]\.2\.2\b|quota|mailbox (?:is )?full|mail ?folder is full|too much mail"
    r"|insufficient (?:disk )?(?:space|storage)",
    re.IGNORECASE,
)


def classify(
    message_bytes: bytes, *, verp_secret: str | bytes, bounce_domain: str
) -> BounceReport | None:
    """Read one message from the bounce mailbox; None if it is neither bounce nor complaint
    (an auto-reply, a message from a person, spam…)."""
    msg = email.message_from_bytes(message_bytes, policy=email.policy.compat32)
    feedback = _feedback_report(msg)
    if feedback is not None:
        report = _complaint(msg, feedback, verp_secret, bounce_domain)
    else:
        report = _bounce(msg, verp_secret, bounce_domain)
    if report is None:
        return None
    return dataclasses.replace(report, origin=_origin(msg))


def _origin(msg: Message) -> str:
    parts = []
    for name in ("From", "Subject", "Date"):
        value = _one_line(decoded_header(msg.get(name, "")))
        if value:
            parts.append(f"{name}: {value[:200]}")
    return "; ".join(parts)


def decoded_header(value: object) -> str:
    """A header as text, RFC 2047 words decoded; never raises on a broken one."""
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):
        return str(value)


# complaints (RFC 5965)


def _feedback_report(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            # The email package parses unknown message/* types as an embedded message,
            # which is exactly the header block the report is.
            return payload[0]
        if isinstance(payload, str):
            return HeaderParser().parsestr(payload)
    return None


def _complaint(
    msg: Message, report: Message, secret: str | bytes, bounce_domain: str
) -> BounceReport | None:
    feedback_type = (report.get("Feedback-Type") or "").strip().lower()
    if feedback_type not in _COMPLAINT_TYPES:
        return None  # "not-spam" and unknown types are not complaints
    original = _original_headers(msg)
    candidates = [
        *report.get_all("Original-Mail-From", []),
        *(original.get_all("Return-Path", []) if original else []),
        *(original.get_all("Sender", []) if original else []),
        *_header_values(msg, _ENVELOPE_HEADERS),
    ]
    delivery_id = _first_delivery_id(candidates, secret)
    if delivery_id is None and original is not None:
        for token in original.get_all(verp.DELIVERY_HEADER, []):
            delivery_id = verp.read_token(str(token), secret)
            if delivery_id is not None:
                break
    rcpts = [a for _, a in getaddresses([str(v) for v in report.get_all("Original-Rcpt-To", [])])]
    if not rcpts and original is not None:
        rcpts = [a for _, a in getaddresses([str(v) for v in original.get_all("To", [])])]
    recipients = _clean(rcpts, bounce_domain)
    return BounceReport(
        kind=BounceKind.COMPLAINT,
        delivery_id=delivery_id,
        recipients=recipients,
        diagnostic=f"feedback report: {feedback_type}"
        + (f" from {report.get('User-Agent')}" if report.get("User-Agent") else ""),
        feedback_type=feedback_type,
    )


# bounces


@dataclass
class _DsnBlock:
    addresses: list[str]
    action: str
    status: str | None
    diagnostic: str


def _bounce(msg: Message, secret: str | bytes, bounce_domain: str) -> BounceReport | None:
    delivery_id = _first_delivery_id(_header_values(msg, _ENVELOPE_HEADERS), secret)
    original = _original_headers(msg)
    if delivery_id is None and original is not None:
        for token in original.get_all(verp.DELIVERY_HEADER, []):
            delivery_id = verp.read_token(str(token), secret)
            if delivery_id is not None:
                break
        if delivery_id is None:
            delivery_id = _first_delivery_id(original.get_all("Return-Path", []), secret)

    blocks = _dsn_blocks(msg)
    by_address = {a.lower(): b for b in blocks for a in b.addresses}
    temporary, permanent = all_failures(msg)
    failures: dict[str, FailedRecipient] = {}
    for raw, flufl_permanent in [(a, False) for a in temporary] + [(a, True) for a in permanent]:
        address = raw.decode("ascii", "replace").strip()
        if not address or _ours(address, bounce_domain):
            continue
        block = by_address.get(address.lower())
        if block is None and len(blocks) == 1:
            block = blocks[0]  # e.g. an X.400 Final-Recipient that only flufl could read
        if block is not None:
            status = block.status or _enhanced(block.diagnostic) or _code_class(block.diagnostic)
            failure = FailedRecipient(
                address,
                permanent=_is_permanent(
                    status, block.action, f"{block.status} {block.diagnostic}", flufl_permanent
                ),
                status=_enhanced(status or ""),
                diagnostic=block.diagnostic,
            )
        else:
            failure = FailedRecipient(address, *_text_diagnostic(msg, address, flufl_permanent))
        previous = failures.get(address.lower())
        if previous is None or (failure.permanent and not previous.permanent):
            failures[address.lower()] = failure

    if not failures:
        if delivery_id is None or _auto_reply(msg):
            return None
        # A message to a signed return path that no detector understands: count it as soft
        # rather than lose it, and keep its subject for staff.
        return BounceReport(
            kind=BounceKind.SOFT,
            delivery_id=delivery_id,
            recipients=(),
            diagnostic=f"unrecognised bounce: {_one_line(msg.get('Subject', ''))}",
        )
    ordered = sorted(failures.values(), key=lambda f: f.address.lower())
    hard = [f for f in ordered if f.permanent]
    chosen = hard or ordered
    first = chosen[0]
    return BounceReport(
        kind=BounceKind.HARD if hard else BounceKind.SOFT,
        delivery_id=delivery_id,
        recipients=tuple(f.address for f in chosen),
        status=first.status,
        diagnostic=first.diagnostic,
        failures=tuple(ordered),
    )


def _is_permanent(status: str | None, action: str, text: str, fallback: bool) -> bool:
    """5.x.x is permanent and 4.x.x temporary, whatever the Action says (a message given
    up after days of 4.4.7 is not proof the address is gone). A full mailbox (x.2.2, or
    said in words) is temporary even when reported as 5.x.x: the address exists."""
    if _MAILBOX_FULL.search(text):
        return False
    if status:
        if status.strip().startswith("5"):
            return True
        if status.strip().startswith("4"):
            return False
    if action.startswith("delayed"):
        return False
    if action.startswith(("fail", "error")):
        return True
    return fallback


def _dsn_blocks(msg: Message) -> list[_DsnBlock]:
    blocks = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            action = (block.get("Action") or "").strip().lower()
            if not action:
                continue  # the per-message block (Reporting-MTA…)
            addresses = []
            for header in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
                value = _one_line(block.get(header) or "")
                kind, _, address = value.partition(";")
                if not _:
                    address = kind  # non-compliant: no address type
                address = parseaddr(address.strip())[1]
                if "@" in address and (not _ or kind.strip().lower() == "rfc822"):
                    addresses.append(address)
            status = _one_line(block.get("Status") or "") or None
            diagnostic = _one_line(block.get("Diagnostic-Code") or "")
            blocks.append(_DsnBlock(addresses, action, status, diagnostic))
    return blocks


def _text_diagnostic(msg: Message, address: str, permanent: bool) -> tuple[bool, str | None, str]:
    """Best effort for non-standard bounces, which flufl.bounce mostly reports as permanent:
    read the lines naming the address; a 4.x.x code or a full mailbox there makes it soft."""
    lines = [line.strip() for line in _text_lines(msg) if line.strip()]
    lowered = address.lower()
    for index, line in enumerate(lines):
        if lowered not in line.lower():
            continue
        window = " ".join(_paragraph(lines, index, lowered))
        status = _enhanced(window)
        if status is not None:
            permanent = status.startswith("5") and not _MAILBOX_FULL.search(window)
        elif _MAILBOX_FULL.search(window):
            permanent = False
        return permanent, status, window[:300]
    return permanent, None, ""


def _paragraph(lines: list[str], start: int, address: str, limit: int = 6) -> list[str]:
    """The lines about one recipient: up to the next recipient (qmail's ``<a@b>:``) or a
    separator such as ``--- Below this line is a copy of the message.``"""
    block = [lines[start]]
    for line in lines[start + 1 : start + limit]:
        other_recipient = _NEXT_RECIPIENT.match(line) and address not in line.lower()
        if other_recipient or line.startswith("--"):
            break
        block.append(line)
    return block


def _text_lines(msg: Message) -> Iterator[str]:
    """The lines of the bounce's own text, not of the original message it quotes."""
    stack = [msg]
    while stack:
        part = stack.pop(0)
        if part.get_content_maintype() == "message":
            continue
        if part.is_multipart():
            stack.extend(p for p in part.get_payload() if isinstance(p, Message))
            continue
        if part.get_content_type() != "text/plain":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "latin-1"
            try:
                text = payload.decode(charset, "replace")
            except LookupError:
                text = payload.decode("latin-1")
            yield from text.splitlines()


def _original_headers(msg: Message) -> Message | None:
    """The headers of the message that bounced or was complained about, when quoted."""
    for part in msg.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return HeaderParser().parsestr(raw.decode("utf-8", "replace"))
    return None


def _header_values(msg: Message, names: Iterable[str]) -> list[str]:
    return [str(v) for name in names for v in msg.get_all(name, [])]


def _first_delivery_id(values: Iterable[object], secret: str | bytes) -> int | None:
    for value in values:
        for _, address in getaddresses([str(value)]):
            delivery_id = verp.decode(address, secret)
            if delivery_id is not None:
                return delivery_id
    return None


def _clean(addresses: Iterable[str], bounce_domain: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for address in addresses:
        address = address.strip().strip("<>")
        if "@" in address and not _ours(address, bounce_domain):
            seen.setdefault(address.lower(), address)
    return tuple(seen.values())


def _ours(address: str, bounce_domain: str) -> bool:
    return address.lower().rpartition("@")[2] == bounce_domain.strip().lower()


def _auto_reply(msg: Message) -> bool:
    """A vacation message or similar, as opposed to a bounce (which MTAs such as Postfix
    also mark ``Auto-Submitted: auto-replied``, but send from the mailer daemon)."""
    auto = (msg.get("Auto-Submitted") or "").strip().lower()
    if not auto.startswith("auto-replied") and msg.get("X-Autoreply") is None:
        return False
    sender = parseaddr(str(msg.get("From", "")))[1].lower().partition("@")[0]
    return sender not in ("mailer-daemon", "postmaster", "mail-daemon", "")


def _enhanced(text: str) -> str | None:
    match = _ENHANCED.search(text)
    return match.group(0) if match else None


def _code_class(status: str | None) -> str | None:
    if not status:
        return None
    match = _SMTP_CODE.search(status)
    return match.group(0) if match else None


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
