"""A local SMTP server for tests and benchmarks, built on aiosmtpd.

It records every accepted message (Message-ID, envelope sender, recipient) as one JSON line,
flushed per message, so a test can count exactly-once delivery across worker crashes, and
injects faults on demand (see ``Faults``). It runs in a thread (``SmtpSink``) or as a
process (``SinkProcess``, or ``python tests/smtp_sink.py --port N --record FILE --faults SPEC``).

``--sink`` (``count_only=True``) is the benchmark mode: accept everything, count, record
nothing per message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

READY_LINE = "smtp-sink listening on"


@dataclass
class Faults:
    """Faults to inject. Addresses compare case-insensitively. Counters decrease as used."""

    connect_421: int = 0  # refuse this many connections with 421 at the greeting (-1: all)
    rcpt_451_once: list[str] = field(default_factory=list)  # 451 on the first RCPT only
    rcpt_451_always: list[str] = field(default_factory=list)
    rcpt_550: list[str] = field(default_factory=list)  # 550 5.1.1 user unknown
    data_554: list[str] = field(default_factory=list)  # 554 5.7.1 after DATA (content refused)
    # Drop the connection after receiving a message's data, before replying: the message
    # is recorded (acknowledged=false), as a server that queued it and then died would.
    drop_after_data: int = 0  # the next N messages, whoever they are for
    drop_after_data_rcpt: list[str] = field(default_factory=list)  # once per address
    close_after_messages: int = 0  # close each connection after it accepted N messages
    slow: float = 0.0  # seconds to wait before every reply
    slow_data: float = 0.0  # seconds to wait before answering a message's data

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """From JSON (``{"rcpt_550": ["a@x.org"], "slow": 0.2}``) or ``@file.json``."""
        if not spec:
            return cls()
        if spec.startswith("@"):
            spec = Path(spec[1:]).read_text()
        data = json.loads(spec)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def __post_init__(self) -> None:
        for name in (
            "rcpt_451_once",
            "rcpt_451_always",
            "rcpt_550",
            "data_554",
            "drop_after_data_rcpt",
        ):
            setattr(self, name, [a.lower() for a in getattr(self, name)])

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "sink-cert.pem", folder / "sink-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def client_context(cert_path: Path) -> ssl.SSLContext:
    """An SSL context for clients that trusts the sink's self-signed certificate."""
    return ssl.create_default_context(cafile=str(cert_path))


_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def _message_id(content: bytes) -> str | None:
    head = re.split(rb"\r?\n\r?\n", content, maxsplit=1)[0]
    match = _MESSAGE_ID.search(head)
    if not match:
        return None
    return b" ".join(match.group(1).split()).decode("utf-8", "replace")


class _State:
    """Shared by every connection of one sink; touched only from the event loop thread,
    except ``records`` and the counters, which are read under the lock."""

    def __init__(self, faults: Faults, record: Path | None, count_only: bool) -> None:
        self.faults = faults
        self.record_path = record
        self.record_file = record.open("a", encoding="utf-8") if record and not count_only else None
        self.count_only = count_only
        self.lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.connections = 0
        self.connected_at: list[float] = []  # time.monotonic() of each connection
        self.messages = 0
        self.seen_451: set[str] = set()
        self.dropped_rcpt: set[str] = set()

    def record(self, entry: dict[str, Any], content: bytes) -> None:
        if self.record_file is not None:
            self.record_file.write(json.dumps(entry) + "\n")
            self.record_file.flush()
        with self.lock:
            # In memory (thread mode) the message itself is kept too, for tests to parse.
            self.records.append({**entry, "content": content})

    def write_counts(self) -> None:
        if self.record_path is None or not self.count_only:
            return
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"messages": self.messages, "connections": self.connections}))
        os.replace(tmp, self.record_path)

    def close(self) -> None:
        self.write_counts()
        if self.record_file is not None:
            self.record_file.close()


class _FaultySMTP(SMTP):
    def __init__(self, handler: Any, state: _State, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.state = state
        self.connection_number = 0
        self.accepted_here = 0

    async def _handle_client(self) -> None:
        state = self.state
        with state.lock:
            state.connections += 1
            state.connected_at.append(time.monotonic())
            self.connection_number = state.connections
        if state.faults.connect_421:
            if state.faults.connect_421 > 0:
                state.faults.connect_421 -= 1
            await self.push("421 4.3.2 Service not available, try again later")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: Any) -> None:
        if self.state.faults.slow:
            await asyncio.sleep(self.state.faults.slow)
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:
        """DATA as aiosmtpd does it, but reading the message in blocks.

        aiosmtpd reads a message line by line in Python, about 30 µs a line: a newsletter
        of 300 lines cost the sink 8 ms, and end-to-end tests measured the sink rather than
        the sender. Same replies, same hooks; the message ends at CRLF "." CRLF and leading
        dots are removed (RFC 5321 §4.5.2).
        """
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        received = bytearray(b"\r\n")  # a CRLF before the first line: an empty message ends too
        searched = 0
        while (end := received.find(b"\r\n.\r\n", searched)) < 0:
            searched = max(0, len(received) - 4)
            try:
                block = await self._reader.read(1 << 16)
            except asyncio.CancelledError:
                self._writer.close()
                raise
            if not block:
                return  # the connection is closing; aiosmtpd's loop ends the session
            received += block
        if len(received) > end + 5:
            # Commands pipelined after the final dot go back to the reader, in order.
            self._reader._buffer[:0] = received[end + 5 :]  # type: ignore[attr-defined]
        content = bytes(received[2 : end + 2]).replace(b"\r\n..", b"\r\n.")
        if content.startswith(b".."):
            content = content[1:]
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def handle_RCPT(
        self,
        server: _FaultySMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        faults, lowered = self.state.faults, address.lower()
        if lowered in faults.rcpt_550:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if lowered in faults.rcpt_451_always:
            return f"451 4.7.1 <{address}>: Recipient address rejected: try again later"
        if lowered in faults.rcpt_451_once and lowered not in self.state.seen_451:
            self.state.seen_451.add(lowered)
            return f"451 4.7.1 <{address}>: Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: _FaultySMTP, session: Session, envelope: Envelope) -> str:
        state, faults = self.state, self.state.faults
        state.messages += 1
        if state.count_only:
            return "250 2.0.0 OK"
        content = envelope.original_content or b""
        if faults.slow_data:
            await asyncio.sleep(faults.slow_data)
        if any(rcpt.lower() in faults.data_554 for rcpt in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected: spam content"
        drop = False
        if faults.drop_after_data > 0:
            faults.drop_after_data -= 1
            drop = True
        for rcpt in envelope.rcpt_tos:
            lowered = rcpt.lower()
            if lowered in faults.drop_after_data_rcpt and lowered not in state.dropped_rcpt:
                state.dropped_rcpt.add(lowered)
                drop = True
        transport = server.transport
        login = session.auth_data
        for rcpt in envelope.rcpt_tos:
            state.record(
                {
                    "message_id": _message_id(content),
                    "mail_from": envelope.mail_from,
                    "mail_options": list(envelope.mail_options),
                    "rcpt": rcpt,
                    "connection": server.connection_number,
                    "tls": bool(transport and transport.get_extra_info("ssl_object")),
                    "auth": login.login.decode() if isinstance(login, LoginPassword) else None,
                    "acknowledged": not drop,
                    "size": len(content),
                    "time": time.time(),
                },
                content,
            )
        if drop:
            assert transport is not None
            transport.close()
            # Wait to be cancelled by connection_lost, so no reply is ever written.
            await asyncio.get_running_loop().create_future()
        server.accepted_here += 1
        if faults.close_after_messages and server.accepted_here >= faults.close_after_messages:
            assert transport is not None
            # After the 250 below has been written: the client finds out on its next command.
            asyncio.get_running_loop().call_soon(transport.close)
        return "250 2.0.0 OK queued"


class SmtpSink:
    """The sink in a background thread. Use as a context manager; ``port`` is chosen by the
    OS unless given. ``security`` is "none", "starttls" or "tls" (implicit TLS); with
    ``auth=(user, password)`` the server requires AUTH (PLAIN or LOGIN)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        record: Path | None = None,
        faults: Faults | None = None,
        security: str = "none",
        auth: tuple[str, str] | None = None,
        cert_dir: Path | None = None,
        count_only: bool = False,
        smtputf8: bool = True,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"security: none, starttls or tls, not {security!r}")
        self.host = host
        self.port = port
        self.security = security
        self.auth = auth
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531) in EHLO
        self.state = _State(faults or Faults(), record, count_only)
        self._cert_dir = cert_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.cert_path: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._counter: asyncio.Task[None] | None = None

    # what tests look at

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.records)

    @property
    def connections(self) -> int:
        with self.state.lock:
            return self.state.connections

    @property
    def connected_at(self) -> list[float]:
        """When each connection came in (time.monotonic()), refused ones included."""
        with self.state.lock:
            return list(self.state.connected_at)

    @property
    def messages(self) -> int:
        return self.state.messages

    def client_context(self) -> ssl.SSLContext:
        assert self.cert_path is not None, "this sink has no TLS"
        return client_context(self.cert_path)

    # lifecycle

    def _contexts(self) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
        if self.security == "none":
            return None, None
        folder = self._cert_dir
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-sink-")
            folder = Path(self._tmp.name)
        self.cert_path, key_path = make_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        if self.security == "tls":
            return context, None
        return None, context

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == tuple(self.auth)
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    def _factory(self, tls_context: ssl.SSLContext | None) -> _FaultySMTP:
        kwargs: dict[str, Any] = {
            "hostname": "sink.localhost",
            "enable_SMTPUTF8": self.smtputf8,
            "loop": self._loop,
            "tls_context": tls_context,
            "require_starttls": tls_context is not None,
        }
        if self.auth is not None:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.security != "none",
            )
        return _FaultySMTP(_Handler(self.state), self.state, **kwargs)

    async def _periodic_counts(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.state.write_counts()

    def start(self) -> SmtpSink:
        implicit, starttls = self._contexts()
        loop = self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                loop.create_server(
                    lambda: self._factory(starttls), self.host, self.port, ssl=implicit
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
            if self.state.count_only:
                self._counter = loop.create_task(self._periodic_counts())
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="smtp-sink", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the SMTP sink did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None
        self.state.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records a sink process wrote (tolerates a last line being written right now)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(line))
    return records


class SinkProcess:
    """The sink as a separate process, for tests that kill workers or need real isolation.

    >>> with SinkProcess(record=tmp_path / "mail.jsonl") as sink:
    ...     send_to("127.0.0.1", sink.port)
    ...     sink.records()
    """

    def __init__(
        self,
        *,
        record: Path,
        faults: Faults | None = None,
        security: str = "none",
        auth: tuple[str, str] | None = None,
        cert_dir: Path | None = None,
        count_only: bool = False,
        port: int = 0,
    ) -> None:
        self.record = record
        self.args = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--port",
            str(port),
            "--record",
            str(record),
            "--faults",
            (faults or Faults()).to_json(),
            "--security",
            security,
        ]
        if auth is not None:
            self.args += ["--auth", f"{auth[0]}:{auth[1]}"]
        if cert_dir is not None:
            self.args += ["--cert-dir", str(cert_dir)]
        if count_only:
            self.args.append("--sink")
        self.cert_path = cert_dir / "sink-cert.pem" if cert_dir is not None else None
        self.process: subprocess.Popen[str] | None = None
        self.port = port

    def start(self) -> SinkProcess:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if READY_LINE not in line:
            self.process.kill()
            raise RuntimeError(f"the SMTP sink process did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.record)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> SinkProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: let the OS choose")
    parser.add_argument("--record", type=Path, help="JSON lines of accepted messages")
    parser.add_argument("--faults", help='JSON, e.g. {"rcpt_550": ["a@x.org"]}, or @file')
    parser.add_argument("--security", choices=["none", "starttls", "tls"], default="none")
    parser.add_argument("--auth", help="user:password required from clients")
    parser.add_argument("--cert-dir", type=Path, help="where to write sink-cert.pem")
    parser.add_argument("--sink", action="store_true", help="accept all, only count")
    args = parser.parse_args(argv)
    auth = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        auth = (user, password)
    sink = SmtpSink(
        host=args.host,
        port=args.port,
        record=args.record,
        faults=Faults.parse(args.faults),
        security=args.security,
        auth=auth,
        cert_dir=args.cert_dir,
        count_only=args.sink,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with sink:
        # The parent reads this line to know where the sink listens.
        sys.stdout.write(f"{READY_LINE} {sink.host}:{sink.port}\n")
        sys.stdout.flush()
        stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
