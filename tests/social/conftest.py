"""A real AT Protocol PDS (npm @atproto/pds, in-memory PLC) for the Bluesky adapter tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

PDS_DIR = Path(__file__).parent / "pds"


@pytest.fixture(scope="session")
def pds() -> Iterator[dict[str, str]]:
    """Starts tests/social/pds/server.js; yields pds_url, handle, password, did."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Bluesky tests need it to run a local PDS")
    if not (PDS_DIR / "node_modules" / "@atproto" / "pds").is_dir():
        pytest.skip(
            "the local PDS is not installed: run `cd tests/social/pds && npm ci && "
            "npm_config_nodedir=/usr npm rebuild better-sqlite3`"
        )
    proc = subprocess.Popen(
        [node, "server.js"],
        cwd=PDS_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    stdout, stdin = proc.stdout, proc.stdin
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=60)
    if not line or not line[0].strip():
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"the local PDS did not start: {err[-2000:]}")
    try:
        yield json.loads(line[0])
    finally:
        stdin.close()  # the server stops when its stdin closes
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
