"""`dispatch demo`: the sample content a newcomer sees, seeded once."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from dispatch.config import AppSettings, build_settings
from dispatch.content import rss
from dispatch.web.app import create_app
from tests.conftest import Cli


def test_demo_seeds_posts_events_and_picks_once(cli: Cli) -> None:
    first = cli("demo")
    assert first.exit_code == 0, first.output
    assert "seeded" in first.output
    items = json.loads(cli("items", "list", "--json", "--limit", "100").output)
    kinds = {row["kind"] for row in items}
    assert kinds == {"post", "event", "pick"}
    titles = {row["title"] for row in items}
    # French typography survives: non-breaking spaces inside « » and before : and ?.
    assert (
        "Innovation publique\u00a0: et si on «\u00a0dépliait\u00a0» l’évaluation\u00a0?" in titles
    )
    assert {row["tag"] for row in items if row["kind"] == "pick"} == {
        "onaime",
        "controverse",
        "mustread",
    }
    again = cli("demo")
    assert "already present" in again.output
    assert len(json.loads(cli("items", "list", "--json", "--limit", "100").output)) == len(items)


def test_the_app_serves_the_demo_feeds_in_embedded_mode_only(
    tmp_path: Path, db_engine: Engine
) -> None:
    embedded = build_settings(app=AppSettings(data_dir=tmp_path))
    response = TestClient(create_app(embedded, engine=db_engine)).get("/demo/feeds/blog.xml")
    assert response.status_code == 200
    parsed = rss.parse_feed(response.content, base_url="http://127.0.0.1:8000/")
    assert len(parsed.entries) == 4 and not parsed.skipped
    assert (
        TestClient(create_app(embedded, engine=db_engine)).get("/demo/feeds/x").status_code == 404
    )
