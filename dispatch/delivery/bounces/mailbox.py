"""The bounce mailbox: reading unprocessed messages from a Maildir folder or over IMAP, and
marking each one processed once its report has been recorded.

Both readers leave messages in place rather than deleting them, so staff can still look at
a bounce that was misread:

- Maildir: a processed message moves to ``cur/`` with the Seen flag (``:2,S``), as a mail
  client would; messages already flagged Seen are skipped.
- IMAP: a processed message gets the ``\\Seen`` flag, or is moved to ``processed_folder``
  when one is given (created if missing); only unseen messages are read. Fetching uses
  ``BODY.PEEK[]`` so that reading alone marks nothing: a crash before ``mark_processed``
  means the message is read again next time, never lost.

A message larger than `max_bytes` is never read (Maildir: its size on disk; IMAP: the
server's RFC822.SIZE), and ``set_aside`` moves a message the caller could not use out of the
way, once: to the Maildir++ subfolder ``.<aside_folder>`` or the IMAP folder
``aside_folder``, so that it is neither re-read every pass nor lost.
"""

from __future__ import annotations

import mailbox
import os
import re
import ssl as ssl_module
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from imapclient import IMAPClient

from dispatch.delivery.transport import Opened

DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_ASIDE_FOLDER = "Unreadable"


class BounceMailbox(Protocol):
    """Where bounces and complaints arrive. Keys are opaque to the caller."""

    def iter_messages(self) -> Iterator[tuple[str, bytes]]:
        """Unprocessed messages of at most `max_bytes`, oldest first."""
        ...

    def oversized(self) -> list[tuple[str, int]]:
        """Unprocessed messages over `max_bytes`, with their size, left unread."""
        ...

    def mark_processed(self, key: str) -> None: ...

    def set_aside(self, key: str) -> str:
        """Move a message out of the way; returns where it went."""
        ...


class MaildirInbox:
    """A Maildir folder (``new/``, ``cur/``, ``tmp/``), as delivered by Postfix, Exim,
    Dovecot's LDA or fetchmail. Keys are Maildir unique names."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        aside_folder: str = DEFAULT_ASIDE_FOLDER,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.aside_folder = aside_folder
        if not (self.path / "cur").is_dir() or not (self.path / "new").is_dir():
            raise FileNotFoundError(f"{self.path} is not a Maildir folder (no cur/ and new/)")

    def _files(self) -> dict[str, Path]:
        files = {}
        for subdir in ("new", "cur"):
            for entry in os.scandir(self.path / subdir):
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                key, _, info = entry.name.partition(_COLON)
                if subdir == "cur" and info.startswith("2,") and "S" in info[2:]:
                    continue  # processed
                files[key] = Path(entry.path)
        return files

    def _sized(self) -> Iterator[tuple[str, Path, int]]:
        for key, path in sorted(self._files().items(), key=lambda kv: _delivery_order(kv[0])):
            try:
                yield key, path, path.stat().st_size
            except FileNotFoundError:
                continue  # processed by another reader in the meantime

    def iter_messages(self) -> Iterator[tuple[str, bytes]]:
        """Unprocessed messages, oldest first (Maildir names start with the delivery time)."""
        for key, path, size in self._sized():
            if size > self.max_bytes:
                continue
            try:
                with path.open("rb") as file:
                    data = file.read(self.max_bytes + 1)
            except FileNotFoundError:
                continue
            if len(data) <= self.max_bytes:  # it may have grown since: then it waits
                yield key, data

    def oversized(self) -> list[tuple[str, int]]:
        return [(key, size) for key, _, size in self._sized() if size > self.max_bytes]

    def set_aside(self, key: str) -> str:
        """Into the Maildir++ subfolder ``.<aside_folder>`` (created if missing), Seen."""
        path = self._files().get(key)
        folder = self.path / f".{self.aside_folder}"
        if path is None:
            return str(folder)
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "maildirfolder").touch()
        os.replace(path, folder / "cur" / f"{key}{_COLON}2,S")
        return str(folder)

    def mark_processed(self, key: str) -> None:
        """Move the message to ``cur/`` with the Seen flag, keeping its other flags."""
        path = self._files().get(key)
        if path is None:
            return  # already processed
        _, _, info = path.name.partition(_COLON)
        flags = set(info[2:]) if info.startswith("2,") else set()
        flags.add("S")
        target = self.path / "cur" / f"{key}{_COLON}2,{''.join(sorted(flags))}"
        os.replace(path, target)


_COLON = mailbox.Maildir.colon


_MICROSECONDS = re.compile(r"(?:^|[^A-Za-z])M(\d{1,6})")


def _delivery_order(key: str) -> tuple[int, int, str]:
    """A Maildir name's delivery time: seconds, then the microseconds of its `M123456` part
    (compared as numbers: as text, M99999 would sort after M123456 of the same second)."""
    seconds, _, rest = key.partition(".")
    micro = _MICROSECONDS.search(rest.split(".", 1)[0])
    return (int(seconds) if seconds.isdigit() else 0, int(micro.group(1)) if micro else 0, key)


def iter_maildir(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """Unprocessed messages of a Maildir folder; see ``MaildirInbox.mark_processed``."""
    return MaildirInbox(path).iter_messages()


def mark_processed(path: str | os.PathLike[str], key: str) -> None:
    MaildirInbox(path).mark_processed(key)


class ImapInbox(Opened):
    """A folder on an IMAP server. Use as a context manager (it logs in and out)."""

    def __init__(  # noqa: PLR0913 - the server's own settings; options keyword-only
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        folder: str = "INBOX",
        ssl: bool = True,
        starttls: bool = False,
        processed_folder: str | None = None,
        ssl_context: ssl_module.SSLContext | None = None,
        timeout: float = 30.0,
        batch_size: int = 50,
        max_bytes: int = DEFAULT_MAX_BYTES,
        aside_folder: str = DEFAULT_ASIDE_FOLDER,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.folder = folder
        self.ssl = ssl
        self.starttls = starttls
        self.processed_folder = processed_folder
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.batch_size = batch_size
        self.max_bytes = max_bytes
        self.aside_folder = aside_folder
        self._client: IMAPClient | None = None

    def open(self) -> None:
        context = self.ssl_context or ssl_module.create_default_context()
        client = IMAPClient(
            self.host,
            port=self.port,
            ssl=self.ssl,
            ssl_context=context if self.ssl else None,
            timeout=self.timeout,
        )
        try:
            if self.starttls and not self.ssl:
                client.starttls(context)
            client.login(self.username, self.password)
            if self.processed_folder and not client.folder_exists(self.processed_folder):
                client.create_folder(self.processed_folder)
            client.select_folder(self.folder)
        except BaseException:
            client.shutdown()
            raise
        self._client = client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # logging out of a broken connection may fail too
            client.shutdown()

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise RuntimeError("the IMAP mailbox is not open (use it in a with block)")
        return self._client

    def iter_messages(self) -> Iterator[tuple[str, bytes]]:
        """Unseen messages as (uid, raw bytes), oldest first, fetched in small batches."""
        uids = sorted(self.client.search(["UNSEEN", "SMALLER", str(self.max_bytes + 1)]))
        for start in range(0, len(uids), self.batch_size):
            chunk = uids[start : start + self.batch_size]
            fetched = self.client.fetch(chunk, ["BODY.PEEK[]"])
            for uid in chunk:
                data = fetched.get(uid, {}).get(b"BODY[]")
                if isinstance(data, bytes):
                    yield str(uid), data

    def oversized(self) -> list[tuple[str, int]]:
        uids = sorted(self.client.search(["UNSEEN", "LARGER", str(self.max_bytes)]))
        if not uids:
            return []
        sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        return [(str(uid), int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))) for uid in uids]

    def mark_processed(self, key: str) -> None:
        uid = int(key)
        # Seen first, so that a crash before a move cannot read it again.
        self.client.add_flags([uid], [b"\\Seen"])
        if self.processed_folder:
            self._move(uid, self.processed_folder)

    def set_aside(self, key: str) -> str:
        """Into the folder ``aside_folder`` (created if missing), Seen."""
        if not self.client.folder_exists(self.aside_folder):
            self.client.create_folder(self.aside_folder)
        self.client.add_flags([int(key)], [b"\\Seen"])
        self._move(int(key), self.aside_folder)
        return f"{self.folder} → {self.aside_folder}"

    def _move(self, uid: int, folder: str) -> None:
        if self.client.has_capability("MOVE"):
            self.client.move([uid], folder)
            return
        self.client.copy([uid], folder)
        self.client.delete_messages([uid])
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge([uid])
        else:
            self.client.expunge()


def iter_imap(
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    folder: str = "INBOX",
    ssl: bool = True,
    ssl_context: ssl_module.SSLContext | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Unseen messages of an IMAP folder, read without marking them; to mark them
    processed as you go, use ``ImapInbox`` directly."""
    with ImapInbox(
        host, port, username, password, folder=folder, ssl=ssl, ssl_context=ssl_context
    ) as inbox:
        yield from inbox.iter_messages()
