"""The outbox folder as a mail path: each message a ``.eml`` file, the embedded default."""

from __future__ import annotations

import email.utils
import hashlib
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from dispatch.delivery.transport import Opened, SendOutcome, SendStatus


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

    def send(
        self,
        envelope_from: str,
        recipient: str,
        message: bytes,
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> SendOutcome:
        if before_commit is not None:
            before_commit()
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
