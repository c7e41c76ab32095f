"""Mail paths: the ``MailTransport`` protocol the sending engine drives, the outcome of a
send, and the choice between its two implementations from settings: SMTP (`smtp.py`, one
reused connection per batch) and an outbox folder of ``.eml`` files (`outbox.py`).

Every outcome is a value (``SendOutcome``), never an exception: the engine records it on the
delivery row so staff can read why a message was not sent.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, Self

from dispatch.config import Settings

Security = Literal["none", "starttls", "tls"]


class SendStatus(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"  # temporary: try again later, the address is not at fault
    FAILED = "failed"  # permanent for this message
    BOUNCED = "bounced"  # permanent for this address: it does not exist


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one message for one recipient."""

    status: SendStatus
    code: int | None = None  # SMTP reply code, e.g. 451
    enhanced_code: str | None = None  # RFC 3463 status, e.g. "5.1.1"
    reply: str = ""  # the server's own words, or where the outbox wrote the file
    reason: str = ""  # one line for staff: what went wrong and what happens next
    hard_bounce: bool = False  # the recipient's address does not exist (5.1.x on RCPT)
    # True only when the connection was lost after the whole message had been sent: the
    # server may have queued it without telling us, so a retry could deliver it twice.
    may_have_been_delivered: bool = False
    # True when no connection could be set up (refused, 421 greeting, TLS, login): nothing
    # about this recipient is known, and the engine waits before trying again.
    connection_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.SENT

    def summary(self) -> str:
        """One line fit for a delivery row's ``smtp_reply`` column."""
        parts = [str(self.code) if self.code else "", self.enhanced_code or "", self.reply]
        text = " ".join(p for p in parts if p)
        if self.reason and self.reason not in text:
            text = f"{self.reason}: {text}" if text else self.reason
        return text[:1000]


class MailTransport(Protocol):
    """One way out for email. ``open`` before a batch, ``send`` per recipient, ``close`` after."""

    def open(self) -> None: ...

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> SendOutcome:
        """Send one message. `before_commit` runs at the last moment before the message is
        handed over for good (SMTP: before the final dot); if it raises, nothing is handed
        over and the exception propagates."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


def parse_reply(code: int, text: bytes | str) -> tuple[str | None, str]:
    """Split a server reply into its enhanced status code (if any) and its text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    enhanced = None
    cleaned = []
    for line in lines:
        match = _ENHANCED.match(line)
        if match:
            enhanced = enhanced or match.group(0)
            line = line[match.end() :].strip()
        cleaned.append(line)
    return enhanced, " ".join(cleaned)


def outcome_from_reply(
    code: int, text: bytes | str, *, stage: Literal["connect", "mail", "rcpt", "data"]
) -> SendOutcome:
    """Map an SMTP refusal to an outcome.

    4xx retries. 5xx fails the message, except 5.1.x on RCPT (bad destination mailbox),
    which is a hard bounce. A refusal of the connection itself (greeting, EHLO, STARTTLS,
    AUTH) is not the recipient's fault, so it retries even when permanent: the engine's
    consecutive-error pause is what stops a misconfigured send.
    """
    enhanced, reply = parse_reply(code, text)
    if stage == "connect":
        return SendOutcome(
            SendStatus.RETRY,
            code,
            enhanced,
            reply,
            reason=f"mail server refused the connection ({code})",
        )
    if 400 <= code < 500:
        return SendOutcome(
            SendStatus.RETRY,
            code,
            enhanced,
            reply,
            reason=f"temporary refusal at {stage.upper()} ({code})",
        )
    if stage == "rcpt" and enhanced is not None and enhanced.startswith("5.1."):
        return SendOutcome(
            SendStatus.BOUNCED,
            code,
            enhanced,
            reply,
            reason="recipient address does not exist",
            hard_bounce=True,
        )
    return SendOutcome(
        SendStatus.FAILED, code, enhanced, reply, reason=f"refused at {stage.upper()} ({code})"
    )


class DotSafeBytes(bytes):
    """Message bytes that go out as DATA unchanged: CRLF line ends only, no line starting
    with a dot, ending with CRLF. `dispatch.delivery.mime` builds its messages so (a leading
    dot in quoted-printable is written ``=2E``) and says so with this type, which saves a
    pass over every copy of a bulk message."""

    __slots__ = ()


class Opened:
    """`with transport:` opens it and closes it whatever happens."""

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def for_settings(settings: Settings) -> MailTransport:
    """A fresh transport for one batch: SMTP when `mail.transport = "smtp"`, else the outbox."""
    from dispatch.delivery.outbox import OutboxTransport
    from dispatch.delivery.smtp import SmtpTransport

    mail = settings.mail
    if mail.transport == "smtp":
        password = mail.smtp_password.get_secret_value() if mail.smtp_password else None
        return SmtpTransport(
            mail.smtp_host,
            mail.smtp_port,
            security=mail.smtp_security,
            username=mail.smtp_username or None,
            password=password if mail.smtp_username else None,
            timeout=mail.smtp_timeout,
            max_messages_per_connection=max(100, mail.batch_size),
        )
    return OutboxTransport(settings.mail_outbox_dir)
