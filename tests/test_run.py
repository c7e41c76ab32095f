"""`dispatch run` (what `make run` starts) serves /healthz and stops every child on Ctrl-C."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests import processes
from tests.servers import free_port

pytestmark = pytest.mark.slow


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.loads(response.read()))


def test_run_starts_everything_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    env = processes.dispatch_env(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'dispatch.sqlite3'}",
        DISPATCH_WEB__PORT=str(port),
    )
    proc = processes.start(["run"], env, tmp_path / "run.log")
    try:

        def healthy() -> bool:
            try:
                return _get_json(f"http://127.0.0.1:{port}/healthz")["status"] == "ok"
            except OSError:
                return False

        processes.wait_until(healthy, timeout=60, what="/healthz")
        # The web app, the worker (with its pool) and beat are all up.
        children = processes.descendants(proc.pid)
        commands = " ".join(" ".join(p.cmdline()) for p in children)
        assert "web" in commands
        assert "worker" in commands
        assert "beat" in commands
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(children, timeout=5)
        assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"
    except (AssertionError, TimeoutError) as error:
        log = (tmp_path / "run.log").read_text(errors="replace")
        raise AssertionError(f"{error}\n--- run.log\n{log}") from error
    finally:
        processes.stop(proc)
    output = (tmp_path / "run.log").read_text(errors="replace")
    assert f"http://127.0.0.1:{port}" in output
