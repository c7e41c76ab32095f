"""POST /hooks/wordpress: a signed call queues a poll; a bad signature changes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import AppSettings, build_settings
from dispatch.content import sources
from dispatch.content.models import Source
from dispatch.db import session_scope
from dispatch.web.app import create_app
from dispatch.web.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests import factories
from tests.doorbells import Answering

SECRET = "s3cret-for-the-hook"
SITE = "https://www.la27eregion.fr/"


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, body, timestamp)}


def hook_body(**fields: str) -> bytes:
    return json.dumps({"kind": "wordpress", "source_url": SITE, **fields}).encode()


def _client(tmp_path, engine: Engine, queued: list[tuple[Any, ...]]) -> TestClient:  # type: ignore[no-untyped-def]
    settings = build_settings(app=AppSettings(data_dir=tmp_path))
    settings.security.webhook_secret = SecretStr(SECRET)
    app = create_app(settings, engine=engine, doorbell=Answering(lambda *a: queued.append(a)))
    return TestClient(app)


def _source(sessions: sessionmaker[Session]) -> int:
    with session_scope(sessions) as session:
        factories.topic(session, "blog")
        return sources.add_source(session, url=SITE, kind="wordpress", topic_slugs=["blog"]).id


def test_signed_call_queues_a_poll(tmp_path, committed_engine: Engine, sessions) -> None:  # type: ignore[no-untyped-def]
    source_id = _source(sessions)
    queued: list[tuple[Any, ...]] = []
    body = hook_body(post_url="https://www.la27eregion.fr/?p=18342", status="publish")
    response = _client(tmp_path, committed_engine, queued).post(
        "/hooks/wordpress", content=body, headers=signed(body)
    )
    assert response.status_code == 202
    assert queued == [("content.poll_source", source_id)]
    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None and source.claimed_until is not None


def test_bad_signature_is_401_and_changes_nothing(
    tmp_path, committed_engine: Engine, sessions
) -> None:  # type: ignore[no-untyped-def]
    source_id = _source(sessions)
    queued: list[tuple[Any, ...]] = []
    body = hook_body(post_url="https://www.la27eregion.fr/?p=1")
    client = _client(tmp_path, committed_engine, queued)
    for headers in (signed(body, "wrong"), {}):
        response = client.post("/hooks/wordpress", content=body, headers=headers)
        assert response.status_code == 401
    # Signed for another body: replaying a signature on altered content fails too.
    response = client.post("/hooks/wordpress", content=body + b" ", headers=signed(body))
    assert response.status_code == 401
    assert queued == []
    with session_scope(sessions) as session:
        source = session.get(Source, source_id)
        assert source is not None and source.claimed_until is None


def test_unknown_site_is_404(tmp_path, committed_engine: Engine, sessions) -> None:  # type: ignore[no-untyped-def]
    _source(sessions)
    queued: list[tuple[Any, ...]] = []
    body = hook_body(source_url="https://elsewhere.example/")
    response = _client(tmp_path, committed_engine, queued).post(
        "/hooks/wordpress", content=body, headers=signed(body)
    )
    assert response.status_code == 404
    assert queued == []


def test_no_secret_means_the_webhook_is_off(
    tmp_path: Path, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _source(sessions)
    queued: list[tuple[Any, ...]] = []
    settings = build_settings(app=AppSettings(data_dir=tmp_path))
    settings.security.webhook_secret = SecretStr("")
    client = TestClient(
        create_app(
            settings,
            engine=committed_engine,
            doorbell=Answering(lambda *a: queued.append(a)),
        )
    )
    body = hook_body()
    # Signed with the empty key, as anyone could: refused.
    response = client.post("/hooks/wordpress", content=body, headers=signed(body, ""))
    assert response.status_code == 401
    assert queued == []


def test_odd_requests_get_clear_answers_not_errors(
    tmp_path: Path, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _source(sessions)
    queued: list[tuple[Any, ...]] = []
    client = _client(tmp_path, committed_engine, queued)
    array = b"[1, 2]"
    response = client.post("/hooks/wordpress", content=array, headers=signed(array))
    assert response.status_code == 400
    non_ascii = client.post(
        "/hooks/wordpress", content=b"{}", headers={SIGNATURE_HEADER: "sha256=é".encode("latin-1")}
    )
    assert non_ascii.status_code == 401
    huge = b"{" + b" " * (70 * 1024) + b"}"
    response = client.post("/hooks/wordpress", content=huge, headers=signed(huge))
    assert response.status_code == 401
    assert queued == []
