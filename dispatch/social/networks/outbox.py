"""The outbox channel: each post written as a JSON file in a folder, once per idempotency key."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from dispatch.social.networks.base import Published
from dispatch.social.render import RenderedPost


class OutboxPublisher:
    """Writes what would be posted to `<folder>/<key>.json`; the same key never writes twice."""

    def __init__(self, folder: Path, *, network: str = "outbox", account: str = "") -> None:
        self.folder = Path(folder)
        self.network = network
        self.account = account

    def __repr__(self) -> str:
        return f"OutboxPublisher(folder={str(self.folder)!r}, network={self.network!r})"

    def path_for(self, idempotency_key: str) -> Path:
        # Keys come from our own post ids, but a file name must never be a path.
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in idempotency_key)
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
        return self.folder / f"{safe[:80]}-{digest}.json"

    def publish(self, post: RenderedPost, *, idempotency_key: str) -> Published:
        existing = self.find_existing(post, idempotency_key=idempotency_key)
        if existing is not None:
            return existing
        path = self.path_for(idempotency_key)
        self.folder.mkdir(parents=True, exist_ok=True)
        document: dict[str, Any] = {
            "idempotency_key": idempotency_key,
            "account": self.account,
            **post.to_dict(),
        }
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(document, f, ensure_ascii=False, indent=2)
                f.write("\n")
            # A hard link fails if the file exists: of two concurrent writers, one wins.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
        return Published(remote_id=idempotency_key, url=path.resolve().as_uri())

    def find_existing(self, post: RenderedPost, *, idempotency_key: str) -> Published | None:
        path = self.path_for(idempotency_key)
        if path.exists():
            return Published(remote_id=idempotency_key, url=path.resolve().as_uri())
        return None
