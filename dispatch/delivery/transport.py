"""Mail paths: the ``MailTransport`` protocol the sending engine drives, and its two
implementations, SMTP (one reused connection per batch) and an outbox folder of ``.eml`` files.

Every outcome is a value (``SendOutcome``), never an exception: the engine records it on the
delivery row so staff can read why a message was not sent.
"""

from __future__ import annotations

import email.utils
import enum
import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, Self

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

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendOutcome: ...

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


class _ConnectionRefusedError(Exception):
    """The connection could not be set up; carries the outcome to report."""

    def __init__(self, outcome: SendOutcome) -> None:
        super().__init__(outcome.summary())
        self.outcome = outcome


class _DroppedError(Exception):
    """The server went away before the message's data was sent: nothing was accepted."""

    def __init__(self, outcome: SendOutcome) -> None:
        super().__init__(outcome.summary())
        self.outcome = outcome


def _lost(error: BaseException, when: str) -> _DroppedError:
    return _DroppedError(
        SendOutcome(
            SendStatus.RETRY,
            reply=str(error) or "server closed the connection",
            reason=f"connection lost {when}",
        )
    )


class DotSafeBytes(bytes):
    """Message bytes that go out as DATA unchanged: CRLF line ends only, no line starting
    with a dot, ending with CRLF. `dispatch.delivery.mime` builds its messages so (a leading
    dot in quoted-printable is written ``=2E``) and says so with this type, which saves a
    pass over every copy of a bulk message."""

    __slots__ = ()


def _dot_stuff(message: bytes) -> bytes:
    """The DATA payload: CRLF line ends, leading dots doubled, terminated by ``.``.

    Plain ``bytes.replace`` passes (each a single C loop over the message) rather than a
    regular expression per line: a bulk message is tens of kilobytes, sent thousands of
    times a minute. Messages built by `dispatch.delivery.mime` already end lines in CRLF,
    so the normalising passes only run for bare CR or LF.
    """
    if type(message) is DotSafeBytes:
        return message + b".\r\n"
    bare = message.replace(b"\r\n", b"")
    if b"\n" in bare or b"\r" in bare:
        message = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    body = message.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


_STAGES: tuple[Literal["mail", "rcpt", "data"], ...] = ("mail", "rcpt", "data")
_EXPECTED = ((250,), (250, 251), (354,))


def _first_refusal(replies: list[tuple[int, bytes]]) -> tuple[int, int] | None:
    """(stage index, code) of the first pipelined reply that is not the expected one."""
    for stage, (code, _) in enumerate(replies):
        if code not in _EXPECTED[stage]:
            return stage, code
    return None


def _path(address: str) -> str:
    """An address as a MAIL/RCPT path: ``<address>``."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        return address
    return f"<{address}>"


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


class SmtpTransport(Opened):
    """SMTP with one connection reused across a batch.

    A connection found closed when a new message starts (idle timeout, server restart, the
    per-connection message limit) is reopened transparently, because the server had not
    accepted anything of that message yet. A connection lost after the message's data was
    sent is never retried here: the outcome says ``retry`` with ``may_have_been_delivered``
    so the engine decides.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        max_messages_per_connection: int = 100,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {security!r}")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.max_messages_per_connection = max(1, max_messages_per_connection)
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        self.connections_opened = 0  # for progress pages and tests

    def open(self) -> None:
        """Ready the transport. The connection opens with the first message, so that a
        server that is down shows up as that message's outcome rather than an exception."""

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._sent_on_connection = 0
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    # sending

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendOutcome:
        if self._smtp is not None and self._sent_on_connection >= self.max_messages_per_connection:
            self.close()
        reused = self._smtp is not None
        try:
            smtp = self._connection()
        except _ConnectionRefusedError as refused:
            return refused.outcome
        try:
            return self._transaction(smtp, envelope_from, recipient, message)
        except _DroppedError as dropped:
            self._discard()
            if not reused:
                return dropped.outcome
        # A reused connection had gone stale between messages: open a fresh one, once.
        try:
            smtp = self._connection()
        except _ConnectionRefusedError as refused:
            return refused.outcome
        try:
            return self._transaction(smtp, envelope_from, recipient, message)
        except _DroppedError as dropped:
            self._discard()
            return dropped.outcome

    def _transaction(
        self, smtp: smtplib.SMTP, envelope_from: str, recipient: str, message: bytes
    ) -> SendOutcome:
        mail_options: list[str] = []
        if not (envelope_from.isascii() and recipient.isascii()):
            if not smtp.has_extn("smtputf8"):
                return SendOutcome(
                    SendStatus.FAILED,
                    reason="address is not ASCII and the server does not accept SMTPUTF8",
                )
            mail_options.append("SMTPUTF8")
        if not message.isascii() and smtp.has_extn("8bitmime"):
            mail_options.append("BODY=8BITMIME")

        if smtp.has_extn("pipelining"):
            refused = self._pipelined_envelope(smtp, envelope_from, recipient, mail_options)
            if refused is not None:
                return refused
        else:
            code, text = self._command(lambda: smtp.mail(envelope_from, mail_options))
            if code == 421:
                # Typically an idle timeout announced on a kept-alive connection: nothing
                # of this message was accepted, so a fresh connection may take it.
                raise _DroppedError(outcome_from_reply(code, text, stage="mail"))
            if code != 250:
                return self._refused(smtp, code, text, "mail")
            code, text = self._command(lambda: smtp.rcpt(recipient))
            if code not in (250, 251):
                return self._refused(smtp, code, text, "rcpt")
            code, text = self._command(lambda: smtp.docmd("DATA"))
            if code != 354:
                return self._refused(smtp, code, text, "data")
        try:
            smtp.send(_dot_stuff(message))
        except smtplib.SMTPServerDisconnected as error:
            # The final dot is the last thing sent; the send failed, so the server cannot
            # have accepted the message.
            raise _lost(error, "while sending the message") from error
        try:
            code, text = smtp.getreply()
        except smtplib.SMTPServerDisconnected as error:
            self._discard()
            return SendOutcome(
                SendStatus.RETRY,
                reply=str(error),
                reason="connection lost after DATA: may have been delivered",
                may_have_been_delivered=True,
            )
        if code != 250:
            return self._refused(smtp, code, text, "data")
        self._sent_on_connection += 1
        enhanced, reply = parse_reply(code, text)
        return SendOutcome(SendStatus.SENT, code, enhanced, reply)

    def _pipelined_envelope(
        self, smtp: smtplib.SMTP, envelope_from: str, recipient: str, mail_options: list[str]
    ) -> SendOutcome | None:
        """MAIL, RCPT and DATA in one write, then their three replies (RFC 2920).

        Returns None once the server said 354 to DATA, otherwise the outcome of the first
        refused stage, mapped exactly as without pipelining. One round trip instead of three.
        """
        if any(c in address for address in (envelope_from, recipient) for c in "\r\n"):
            return SendOutcome(SendStatus.FAILED, reason="address contains a line break")
        options = "".join(f" {option}" for option in mail_options)
        commands = (
            f"MAIL FROM:{_path(envelope_from)}{options}\r\nRCPT TO:{_path(recipient)}\r\nDATA\r\n"
        )
        try:
            smtp.send(commands.encode("utf-8" if "SMTPUTF8" in mail_options else "ascii"))
        except smtplib.SMTPServerDisconnected as error:
            raise _lost(error, "before DATA") from error
        # Every reply is read before acting on any, so the connection stays in step.
        replies: list[tuple[int, bytes]] = []
        try:
            while len(replies) < 3:
                code, text = smtp.getreply()
                replies.append((int(code), text))
        except smtplib.SMTPServerDisconnected as error:
            # The server hung up mid-group: what it said before going is the outcome.
            refusal = _first_refusal(replies)
            if refusal is None:
                raise _lost(error, "before DATA") from error
            if refusal == (0, 421):
                raise _DroppedError(outcome_from_reply(*replies[0], stage="mail")) from error
            self._discard()
            return outcome_from_reply(*replies[refusal[0]], stage=_STAGES[refusal[0]])
        refusal = _first_refusal(replies)
        if replies[2][0] == 354 and refusal is not None:
            # A server that accepts DATA after refusing the envelope gets an empty
            # message, which it must refuse for want of a recipient.
            try:
                smtp.send(b".\r\n")
                smtp.getreply()
            except smtplib.SMTPServerDisconnected:
                self._discard()
                return outcome_from_reply(*replies[refusal[0]], stage=_STAGES[refusal[0]])
        if refusal is None:
            return None
        stage, code = refusal
        if code == 421 and stage == 0:
            # As without pipelining: a kept-alive connection timed out; retry on a new one.
            raise _DroppedError(outcome_from_reply(*replies[0], stage="mail"))
        return self._refused(smtp, *replies[stage], _STAGES[stage])

    @staticmethod
    def _command(call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        try:
            code, text = call()
        except smtplib.SMTPServerDisconnected as error:
            raise _lost(error, "before DATA") from error
        return int(code), text

    def _refused(
        self,
        smtp: smtplib.SMTP,
        code: int,
        text: bytes,
        stage: Literal["mail", "rcpt", "data"],
    ) -> SendOutcome:
        if code == 421 or code == -1:
            # 421: the server is closing this channel; don't try to reuse it.
            self._discard()
        else:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._discard()
        return outcome_from_reply(code, text, stage=stage)

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._sent_on_connection = 0
        if smtp is not None:
            smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP
        try:
            if self.security == "tls":
                context = self.ssl_context or ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
        except smtplib.SMTPConnectError as error:
            raise _ConnectionRefusedError(
                outcome_from_reply(error.smtp_code, error.smtp_error, stage="connect")
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise _ConnectionRefusedError(
                SendOutcome(SendStatus.RETRY, reply=str(error), reason=f"cannot connect to {where}")
            ) from error
        try:
            self._greet(smtp)
        except _ConnectionRefusedError:
            smtp.close()
            raise
        except (OSError, smtplib.SMTPException) as error:
            smtp.close()
            raise _ConnectionRefusedError(
                SendOutcome(
                    SendStatus.RETRY,
                    reply=str(error),
                    reason=f"connection to {where} failed during setup",
                )
            ) from error
        self._smtp = smtp
        self._sent_on_connection = 0
        self.connections_opened += 1
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        code, text = smtp.ehlo()
        if code != 250:
            code, text = smtp.helo()
            if code != 250:
                raise _ConnectionRefusedError(outcome_from_reply(code, text, stage="connect"))
        if self.security == "starttls":
            if not smtp.has_extn("starttls"):
                # Never fall back to plain text when TLS was asked for.
                raise _ConnectionRefusedError(
                    SendOutcome(
                        SendStatus.RETRY,
                        reason=f"{self.host}:{self.port} does not offer STARTTLS",
                    )
                )
            context = self.ssl_context or ssl.create_default_context()
            code, text = smtp.starttls(context=context)
            if code != 220:
                raise _ConnectionRefusedError(outcome_from_reply(code, text, stage="connect"))
            smtp.ehlo()
        if self.username is not None and self.password is not None:
            try:
                smtp.login(self.username, self.password)
            except smtplib.SMTPAuthenticationError as error:
                raise _ConnectionRefusedError(
                    SendOutcome(
                        SendStatus.RETRY,
                        error.smtp_code,
                        *parse_reply(error.smtp_code, error.smtp_error),
                        reason="SMTP authentication refused: check the username and password",
                    )
                ) from error
            except smtplib.SMTPNotSupportedError as error:
                raise _ConnectionRefusedError(
                    SendOutcome(
                        SendStatus.RETRY,
                        reason=f"{self.host}:{self.port} does not offer AUTH: {error}",
                    )
                ) from error


class OutboxTransport(Opened):
    """Writes each message as ``<timestamp>-<hash>.eml`` in a folder: the embedded default.

    One file per (Message-ID, recipient). The name depends only on the message (its Date
    header and Message-ID) and the recipient, so sending the same message again rewrites
    the same file instead of adding a second one. Files appear atomically (written to a
    temporary name, then renamed), so a reader never sees half a message. ``Return-Path``
    and ``Envelope-To`` are prepended, as a local delivery agent would.
    """

    def __init__(self, folder: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.folder = Path(folder)
        self.fsync = fsync

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def path_for(self, recipient: str, message: bytes) -> Path:
        """Where ``send`` writes (or has written) this message for this recipient."""
        headers = BytesHeaderParser().parsebytes(message)
        message_id = (headers.get("Message-ID") or "").strip()
        key = message_id.encode() if message_id else hashlib.sha256(message).digest()
        digest = hashlib.sha256(key + b"\0" + recipient.strip().lower().encode()).hexdigest()
        suffix = f"-{digest[:20]}.eml"
        stamp = _timestamp(headers.get("Date"))
        if stamp is None:
            # Without a Date the name cannot be derived again; look for an earlier copy.
            existing = sorted(self.folder.glob(f"*{suffix}"))
            if existing:
                return existing[0]
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return self.folder / f"{stamp}{suffix}"

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendOutcome:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.path_for(recipient, message)
            newline = b"\r\n" if b"\r\n" in message[:2000] else b"\n"
            envelope = (
                f"Return-Path: <{envelope_from}>".encode()
                + newline
                + f"Envelope-To: {recipient}".encode()
                + newline
            )
            self._write_atomically(path, envelope + message)
        except OSError as error:
            return SendOutcome(
                SendStatus.RETRY,
                reply=str(error),
                reason=f"cannot write to the outbox folder {self.folder}",
            )
        return SendOutcome(SendStatus.SENT, reply=f"written to {path}")

    def _write_atomically(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _timestamp(date_header: str | None) -> str | None:
    if not date_header:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
