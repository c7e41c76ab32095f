"""The WordPress webhook under attack: a captured call replayed, a call signed long ago, and a
site with several feeds where the host alone used to pick the wrong one."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import AppSettings, build_settings
from dispatch.content import sources
from dispatch.db import session_scope
from dispatch.web.app import create_app
from dispatch.web.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests import factories
from tests.doorbells import Rings

SECRET = "the-shared-webhook-secret"
SITE = "https://www.la27eregion.fr/"


def _client(tmp_path: Path, engine: Engine, rings: Rings) -> TestClient:
    settings = build_settings(app=AppSettings(data_dir=tmp_path / "var"))
    settings.security.webhook_secret = SecretStr(SECRET)
    return TestClient(create_app(settings, engine=engine, doorbell=rings))


def _call(client: TestClient, payload: dict[str, str], *, at: float | None = None):  # type: ignore[no-untyped-def]
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time() if at is None else at))
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(SECRET, body, timestamp)}
    return client.post("/hooks/wordpress", content=body, headers=headers), body, headers


def _add(sessions: sessionmaker[Session], url: str, kind: str) -> int:
    with session_scope(sessions) as session:
        factories.topic(session, "blog")
        return sources.add_source(session, url=url, kind=kind, topic_slugs=["blog"]).id


def _release(sessions: sessionmaker[Session], source_id: int) -> None:
    with session_scope(sessions) as session:
        source = session.get(sources.Source, source_id)
        assert source is not None
        source.claimed_until = None


def test_a_captured_call_cannot_be_replayed(
    tmp_path: Path, web_engine: Engine, web_sessions: sessionmaker[Session]
) -> None:
    source_id = _add(web_sessions, SITE, "wordpress")
    rings = Rings()
    client = _client(tmp_path, web_engine, rings)

    first, body, headers = _call(client, {"kind": "wordpress", "source_url": SITE})
    _release(web_sessions, source_id)  # the poll is over: a new call would queue another
    replayed = client.post("/hooks/wordpress", content=body, headers=headers)

    assert first.status_code == 202
    assert replayed.status_code == 409
    assert rings == [("content.poll_source", (source_id,))]


def test_a_call_signed_more_than_five_minutes_away_is_refused(
    tmp_path: Path, web_engine: Engine, web_sessions: sessionmaker[Session]
) -> None:
    _add(web_sessions, SITE, "wordpress")
    rings = Rings()
    client = _client(tmp_path, web_engine, rings)
    payload = {"kind": "wordpress", "source_url": SITE}

    old, _, _ = _call(client, payload, at=time.time() - 301)
    future, _, _ = _call(client, payload, at=time.time() + 301)
    # The timestamp is signed: moving it forward breaks the signature.
    body = json.dumps(payload).encode()
    stale = str(int(time.time() - 3600))
    moved = client.post(
        "/hooks/wordpress",
        content=body,
        headers={
            TIMESTAMP_HEADER: str(int(time.time())),
            SIGNATURE_HEADER: sign(SECRET, body, stale),
        },
    )

    assert (old.status_code, future.status_code, moved.status_code) == (401, 401, 401)
    assert "five minutes" in old.json()["error"]
    assert rings == []


def test_the_source_is_the_one_named_exactly_not_any_on_the_same_host(
    tmp_path: Path, web_engine: Engine, web_sessions: sessionmaker[Session]
) -> None:
    events = _add(web_sessions, "https://www.la27eregion.fr/agenda.ics", "ical")
    feed = _add(web_sessions, "https://www.la27eregion.fr/feed/", "rss")
    site = _add(web_sessions, SITE, "wordpress")
    rings = Rings()
    client = _client(tmp_path, web_engine, rings)

    answers = [
        _call(client, {"kind": "rss", "source_url": "https://www.la27eregion.fr/feed/"})[0],
        _call(client, {"kind": "wordpress", "source_url": SITE})[0],
        # Same URL, other kind; a URL of the site that is no source; the old body shape.
        _call(client, {"kind": "rss", "source_url": SITE})[0],
        _call(client, {"kind": "wordpress", "source_url": SITE + "?p=12"})[0],
        _call(client, {"url": "https://www.la27eregion.fr/?p=12"})[0],
    ]

    assert [a.status_code for a in answers] == [202, 202, 404, 404, 400]
    assert [ids for _, ids in rings] == [(feed,), (site,)]
    assert events not in [ids[0] for _, ids in rings]
