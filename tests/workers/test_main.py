"""The `dispatch` command as processes start it: a taken port is a sentence, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests import processes


def test_run_says_the_port_is_taken_and_how_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = processes.dispatch_env(
            data_dir=tmp_path / "var",
            database_url=f"sqlite:///{tmp_path / 'dispatch.sqlite3'}",
            DISPATCH_WEB__PORT=str(port),
        )
        result = subprocess.run(
            [sys.executable, "-m", "workers", "run"],
            env=env,
            cwd=processes.ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"DISPATCH_WEB__PORT={port + 1}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "is running at" not in result.stdout
    # Nothing was started, not even the migration of a fresh database.
    assert not (tmp_path / "dispatch.sqlite3").exists()
