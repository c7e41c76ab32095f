"""Reading the bounce mailbox: a real Maildir folder, and a real IMAP server (Dovecot)."""

from __future__ import annotations

import mailbox
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imapclient import IMAPClient

from dispatch.delivery.bounces.mailbox import ImapInbox, MaildirInbox, iter_imap, iter_maildir
from dispatch.delivery.bounces.reports import BounceKind, classify
from tests.smtp_sink import client_context, make_certificate

FIXTURES = Path(__file__).parents[2] / "fixtures" / "delivery"
SECRET = "test-verp-secret"
DOMAIN = "lettre.la27eregion.fr"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# Maildir


@pytest.fixture
def maildir(tmp_path) -> mailbox.Maildir:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name in (
        "verp/postfix_dsn_verp.eml",
        "bounces/dsn_12.eml",
        "complaints/arf_abuse_verp.eml",
    ):
        key = box.add(mailbox.MaildirMessage(fixture_bytes(name)))
        time.sleep(0.01)  # distinct delivery times, as a real MTA would give
        assert key
    return box


def test_maildir_yields_each_unprocessed_message_once(maildir):
    inbox = MaildirInbox(maildir._path)
    read = list(inbox.iter_messages())
    reports = [classify(data, verp_secret=SECRET, bounce_domain=DOMAIN) for _, data in read]
    assert [r.kind for r in reports if r] == [
        BounceKind.HARD,
        BounceKind.HARD,
        BounceKind.COMPLAINT,
    ]
    assert [r.delivery_id for r in reports if r] == [31337, None, 4242]
    inbox.mark_processed(read[0][0])
    assert [key for key, _ in iter_maildir(maildir._path)] == [read[1][0], read[2][0]]


def test_processed_messages_stay_in_cur_flagged_seen(maildir):
    inbox = MaildirInbox(maildir._path)
    keys = [key for key, _ in inbox.iter_messages()]
    for key in keys:
        inbox.mark_processed(key)
        inbox.mark_processed(key)  # twice is harmless
    assert list(inbox.iter_messages()) == []
    reread = mailbox.Maildir(maildir._path, create=False)
    assert sorted(reread.keys()) == sorted(keys)  # nothing deleted
    for key in keys:
        message = reread.get_message(key)
        assert message.get_subdir() == "cur"
        assert "S" in message.get_flags()


def test_a_message_already_read_by_a_person_keeps_its_flags(maildir):
    key = next(iter(maildir.keys()))
    message = maildir.get_message(key)
    message.set_subdir("cur")
    message.add_flag("F")  # flagged, not seen
    maildir[key] = message
    inbox = MaildirInbox(maildir._path)
    assert key in [k for k, _ in inbox.iter_messages()]
    inbox.mark_processed(key)
    assert set(mailbox.Maildir(maildir._path).get_message(key).get_flags()) == {"F", "S"}


def test_not_a_maildir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Maildir"):
        MaildirInbox(tmp_path)


# IMAP, against Dovecot started for these tests


@dataclass
class Dovecot:
    imap_port: int
    imaps_port: int
    cert: Path
    username: str = "bounces"
    password: str = "p4ss-w0rd"

    def client(self) -> IMAPClient:
        client = IMAPClient(
            "127.0.0.1", port=self.imaps_port, ssl=True, ssl_context=client_context(self.cert)
        )
        client.login(self.username, self.password)
        return client


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if os.geteuid() != 0:
        pytest.skip("starting Dovecot needs root (it switches to its mail user)")
    if not Path(DOVECOT).exists():
        pytest.skip("Dovecot is not installed (Debian package dovecot-imapd)")
    # Not under pytest's tmp_path: the mail user (nobody) must be able to reach the folder.
    root = Path(tempfile.mkdtemp(prefix="dispatch-dovecot-"))
    root.chmod(0o755)
    cert, key = make_certificate(root)
    for name in ("run", "state", "mail"):
        (root / name).mkdir()
    os.chown(root / "mail", 65534, 65534)
    (root / "passwd").write_text(f"bounces:{{PLAIN}}p4ss-w0rd:65534:65534::{root}/mail/bounces\n")
    imap_port, imaps_port = _free_port(), _free_port()
    (root / "dovecot.conf").write_text(
        f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
mail_location = maildir:{root}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""
    )
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")])
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", imaps_port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (root / "dovecot.log").read_text()
                        if (root / "dovecot.log").exists()
                        else ""
                    )
                    pytest.skip(f"Dovecot did not start: {log[-500:]}")
                time.sleep(0.1)
        yield Dovecot(imap_port, imaps_port, cert)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap_folder(dovecot) -> str:
    """A fresh folder holding a hard bounce, a complaint and a vacation reply."""
    folder = f"Bounces{time.monotonic_ns()}"
    with dovecot.client() as client:
        client.create_folder(folder)
        for name in ("verp/postfix_dsn_verp.eml", "complaints/arf_headers_only.eml"):
            client.append(folder, fixture_bytes(name))
        client.append(
            folder,
            b"From: claire@example.net\r\nTo: bounces@lettre.la27eregion.fr\r\n"
            b"Auto-Submitted: auto-replied\r\nSubject: Absente\r\n\r\nDe retour lundi.\r\n",
        )
    return folder


def inbox_for(dovecot: Dovecot, folder: str, **options) -> ImapInbox:
    options.setdefault("ssl_context", client_context(dovecot.cert))
    return ImapInbox(
        "127.0.0.1",
        dovecot.imaps_port,
        dovecot.username,
        dovecot.password,
        folder=folder,
        **options,
    )


def test_imap_reads_without_marking_then_marks_seen(dovecot, imap_folder):
    with inbox_for(dovecot, imap_folder) as inbox:
        first = list(inbox.iter_messages())
        again = list(inbox.iter_messages())  # reading alone marks nothing
        assert [uid for uid, _ in again] == [uid for uid, _ in first]
        reports = [classify(d, verp_secret=SECRET, bounce_domain=DOMAIN) for _, d in first]
        assert [(r.kind, r.delivery_id) if r else None for r in reports] == [
            (BounceKind.HARD, 31337),
            (BounceKind.COMPLAINT, 777),
            None,
        ]
        for uid, _ in first[:2]:
            inbox.mark_processed(uid)
    with inbox_for(dovecot, imap_folder) as inbox:
        assert [uid for uid, _ in inbox.iter_messages()] == [first[2][0]]
    with dovecot.client() as client:
        client.select_folder(imap_folder)
        assert len(client.search(["ALL"])) == 3  # seen, not deleted


def test_imap_moves_processed_messages_to_a_folder(dovecot, imap_folder):
    processed = f"{imap_folder}-done"
    with inbox_for(dovecot, imap_folder, processed_folder=processed) as inbox:
        for uid, _ in list(inbox.iter_messages()):
            inbox.mark_processed(uid)
        assert list(inbox.iter_messages()) == []
    with dovecot.client() as client:
        assert client.select_folder(imap_folder)[b"EXISTS"] == 0
        assert client.select_folder(processed)[b"EXISTS"] == 3


def test_iter_imap_over_plain_port_with_starttls_off(dovecot, imap_folder):
    subjects = [
        data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0]
        for _, data in iter_imap(
            "127.0.0.1",
            dovecot.imap_port,
            dovecot.username,
            dovecot.password,
            folder=imap_folder,
            ssl=False,
        )
    ]
    assert subjects == [
        b"Undelivered Mail Returned to Sender",
        b"complaint about message from 198.51.100.17",
        b"Absente",
    ]


def test_imap_with_a_wrong_password_says_so(dovecot):
    inbox = ImapInbox(
        "127.0.0.1",
        dovecot.imaps_port,
        dovecot.username,
        "wrong",
        ssl_context=client_context(dovecot.cert),
    )
    with pytest.raises(Exception, match=r"(?i)authentication failed"):
        inbox.open()


def test_imap_leaves_oversized_messages_unread_and_sets_them_aside(dovecot, imap_folder):
    huge = b"From: x@example.net\r\nSubject: Huge\r\n\r\n" + b"X" * 300_000 + b"\r\n"
    with dovecot.client() as client:
        client.append(imap_folder, huge)
    aside = f"{imap_folder}-aside"
    with inbox_for(dovecot, imap_folder, max_bytes=100_000, aside_folder=aside) as inbox:
        assert len(list(inbox.iter_messages())) == 3  # the huge one is not fetched
        [(uid, size)] = inbox.oversized()
        assert size >= 300_000
        inbox.set_aside(uid)
        assert inbox.oversized() == []
    with dovecot.client() as client:
        assert client.select_folder(imap_folder)[b"EXISTS"] == 3
        assert client.select_folder(aside)[b"EXISTS"] == 1


def test_maildir_leaves_oversized_messages_unread_and_sets_them_aside(maildir):
    key = maildir.add(b"From: x@example.net\r\nSubject: Huge\r\n\r\n" + b"X" * 300_000)
    inbox = MaildirInbox(maildir._path, max_bytes=100_000, aside_folder="Aside")
    assert key not in [k for k, _ in inbox.iter_messages()]
    assert [k for k, _ in inbox.oversized()] == [key]
    where = inbox.set_aside(key)
    assert inbox.oversized() == [] and key not in [k for k, _ in inbox.iter_messages()]
    assert where.endswith(".Aside") and len(list((Path(where) / "cur").iterdir())) == 1
