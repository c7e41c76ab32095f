"""Start dispatch's own processes (worker, beat, run) for end-to-end tests, and clean up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def dispatch_env(
    *, data_dir: Path, database_url: str, broker_url: str = "", **extra: str
) -> dict[str, str]:
    """The environment a child process needs to share the test's database and broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    env.update(
        {
            "DISPATCH_SETTINGS_FILE": str(ROOT / "tests" / "fixtures" / "settings-test.toml"),
            "DISPATCH_APP__DATA_DIR": str(data_dir),
            "DISPATCH_DATABASE__URL": database_url,
            "DISPATCH_BROKER__URL": broker_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers", *args],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker(
    env: dict[str, str], log: Path, *, concurrency: int = 1, queues: str | None = None
) -> subprocess.Popen[bytes]:
    """A `dispatch worker`; `queues` (comma-separated) instead of the default queue."""
    return start(
        [
            "worker",
            "--concurrency",
            str(concurrency),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            *(["--queues", queues] if queues else []),
        ],
        env,
        log,
    )


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a child and everything it started, whatever happens."""
    kids = descendants(proc.pid)
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for kid in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            kid.kill()


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 a worker and its pool processes, as a crash would."""
    kids = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for kid in kids:
        with contextlib.suppress(psutil.NoSuchProcess):
            kid.kill()


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float = 60,
    what: str = "condition",
    interval: float = 0.1,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
