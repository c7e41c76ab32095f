"""Real PostgreSQL and Redis servers from the OS packages, on free loopback ports.

Used by the test fixtures and by the benchmarks. Each server lives in a temporary folder and
is stopped (and its folder removed) by `stop()`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServerUnavailableError(Exception):
    """The server's binary is not installed; tests skip with this reason."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _find(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}"), reverse=True)
    return candidates[0] if candidates else None


@dataclass
class Server:
    url: str
    port: int
    folder: Path
    proc: subprocess.Popen[bytes]
    extra: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)  # how it was started, to start it again

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def start_postgres(*, max_connections: int = 200, durable: bool = False) -> Server:
    """A PostgreSQL server of its own. Not `durable` (the default), it skips fsync: a crash
    of the server (`crash_postgres`) then loses nothing the operating system was handed,
    which is what the tests need; `durable` runs with fsync and full-page writes on, as a
    production server does, for benchmarks that measure the cost of synchronous commits."""
    initdb, postgres = _find("initdb"), _find("postgres")
    if not initdb or not postgres:
        raise ServerUnavailableError("PostgreSQL is not installed (initdb/postgres not found)")
    folder = Path(tempfile.mkdtemp(prefix="dispatch-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        _as_postgres_user(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    speed = [] if durable else ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    options = [*speed, f"max_connections={max_connections}"]
    command = _as_postgres_user(
        [
            postgres,
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(folder),
            *(arg for option in options for arg in ("-c", option)),
        ]
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    server = Server(url=url, port=port, folder=folder, proc=_run_postgres(command, folder))
    server.command = command
    server.extra["data"] = str(data)
    wait_for_port(port, proc=server.proc)
    _wait_accepting(url)
    return server


def _run_postgres(command: list[str], folder: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "postgres.log", "ab"),  # lives as long as the server
    )


def crash_postgres(server: Server) -> None:
    """Stop the server as a crash would: `pg_ctl stop -m immediate`, no checkpoint, every
    backend killed; what was not yet in the write-ahead log is lost."""
    pg_ctl = _find("pg_ctl")
    assert pg_ctl is not None
    subprocess.run(
        _as_postgres_user([pg_ctl, "stop", "-D", server.extra["data"], "-m", "immediate"]),
        check=True,
        capture_output=True,
    )
    server.proc.wait(timeout=20)


def restart_postgres(server: Server) -> None:
    """Start a stopped server again on the same port and data; it recovers from its log."""
    server.proc = _run_postgres(server.command, server.folder)
    wait_for_port(server.port, proc=server.proc)
    _wait_accepting(server.url)


def _wait_accepting(url: str, timeout: float = 30.0) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def create_database(server: Server, name: str) -> str:
    import psycopg

    dsn = server.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.rsplit("/", 1)[0] + f"/{name}"


def start_redis() -> Server:
    binary = shutil.which("redis-server")
    if not binary:
        raise ServerUnavailableError("Redis is not installed (redis-server not found)")
    folder = Path(tempfile.mkdtemp(prefix="dispatch-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc)
    return Server(url=f"redis://127.0.0.1:{port}/0", port=port, folder=folder, proc=proc)
