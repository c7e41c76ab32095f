"""SMTP as a mail path: one connection reused for a whole batch, pipelined when the server
offers it, with STARTTLS or TLS and AUTH, reconnecting when the server drops the line.

A refusal is an outcome (`SendOutcome`), never an exception; a lost connection before the
message's data was sent is a retry, nothing having been accepted.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from dispatch.config import Settings
from dispatch.delivery.transport import (
    DotSafeBytes,
    Opened,
    Security,
    SendOutcome,
    SendStatus,
    outcome_from_reply,
    parse_reply,
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


class SmtpTransport(Opened):
    """SMTP with one connection reused across a batch.

    A connection found closed when a new message starts (idle timeout, server restart, the
    per-connection message limit) is reopened transparently, because the server had not
    accepted anything of that message yet. A connection lost after the message's data was
    sent is never retried here: the outcome says ``retry`` with ``may_have_been_delivered``
    so the engine decides.
    """

    def __init__(  # noqa: PLR0913 - the relay's own settings, every one keyword-only
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

    def check(self) -> tuple[SendOutcome | None, str]:
        """Open a connection as a batch would (TLS, AUTH), send nothing, close it.

        Returns (the refusal, if any; what the connection used), for `dispatch doctor`."""
        try:
            smtp = self._connection()
        except _ConnectionRefusedError as refused:
            return refused.outcome, ""
        sock: Any = smtp.sock
        tls = sock.version() if hasattr(sock, "version") else None
        used = f"TLS {tls} ({sock.cipher()[0]})" if tls else "no TLS"
        if self.username:
            used += f", AUTH as {self.username}"
        self.close()
        return None, used

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

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> SendOutcome:
        if self._smtp is not None and self._sent_on_connection >= self.max_messages_per_connection:
            self.close()
        reused = self._smtp is not None
        try:
            smtp = self._connection()
        except _ConnectionRefusedError as refused:
            return replace(refused.outcome, connection_failed=True)
        try:
            return self._transaction(smtp, envelope_from, recipient, message, before_commit)
        except _DroppedError as dropped:
            self._discard()
            if not reused:
                return dropped.outcome
        # A reused connection had gone stale between messages: open a fresh one, once.
        try:
            smtp = self._connection()
        except _ConnectionRefusedError as refused:
            return replace(refused.outcome, connection_failed=True)
        try:
            return self._transaction(smtp, envelope_from, recipient, message, before_commit)
        except _DroppedError as dropped:
            self._discard()
            return dropped.outcome

    def _transaction(
        self,
        smtp: smtplib.SMTP,
        envelope_from: str,
        recipient: str,
        message: bytes,
        before_commit: Callable[[], None] | None = None,
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
        data = _dot_stuff(message)
        try:
            if before_commit is None:
                smtp.send(data)
            else:
                # Everything but the final dot, which is what delivers the message: what
                # must be true before it (the previous mark on disk) overlaps the transfer.
                smtp.send(message if type(message) is DotSafeBytes else data[:-3])
                try:
                    before_commit()
                except BaseException:
                    self._discard()  # without its dot the server drops the message
                    raise
                smtp.send(data[-3:])
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
        # Commands and the final dot are small writes that a reply waits for: no Nagle delay.
        with contextlib.suppress(OSError, AttributeError):
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
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

    def offers(self, extension: str) -> bool:
        """Whether the relay advertises `extension` (after STARTTLS and AUTH)."""
        try:
            smtp = self._connection()
        except _ConnectionRefusedError:
            return False
        return bool(smtp.has_extn(extension))


_PROBE_SECONDS = 600.0
_probed: dict[tuple[str, int], tuple[float, bool]] = {}
_probe_lock = threading.Lock()


def relay_offers_smtputf8(settings: Settings) -> bool:
    """Whether mail can go to an address with a non-ASCII local part: `mail.smtputf8`, or
    with "auto" the outbox (always) or the relay's EHLO, asked at most every ten minutes per
    process. A relay that cannot be reached counts as no: an address is never accepted that
    cannot be mailed."""
    from dispatch.delivery.transport import for_settings

    mail = settings.mail
    if mail.smtputf8 != "auto":
        return mail.smtputf8 == "yes"
    if mail.transport != "smtp":
        return True
    key = (mail.smtp_host, mail.smtp_port)
    with _probe_lock:
        found = _probed.get(key)
        if found is not None and time.monotonic() - found[0] < _PROBE_SECONDS:
            return found[1]
        transport = for_settings(settings)
        assert isinstance(transport, SmtpTransport)
        with transport:
            answer = transport.offers("smtputf8")
        _probed[key] = (time.monotonic(), answer)
        return answer
