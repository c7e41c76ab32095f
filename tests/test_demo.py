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
    # The editorial desk: "Controverse" needs approval, so its pick waits there.
    [waiting] = [row for row in json.loads(cli("desk", "list", "--json").output)
                 if row["state"] == "pending"]  # fmt: skip
    assert waiting["topics"] == ["controverse"] and waiting["kind"] == "pick"
    assert waiting["channels"]["alert"] == "waiting"
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


def test_the_demo_owner_is_made_once_with_a_password_printed_and_kept_private(cli: Cli) -> None:
    import re

    from dispatch.config import get_settings
    from tests.doorbells import Rings
    from tests.web.staffsite import csrf_of

    first = cli("demo")
    found = re.search(r"Staff login: (\S+) / (\S+)", first.output)
    assert found, first.output
    address, password = found.groups()
    kept = cli.data_dir / "demo-login.txt"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.read_text().splitlines() == [
        "http://127.0.0.1:8000/admin/login",
        f"email: {address}",
        f"password: {password}",
    ]
    again = cli("demo")
    assert "Staff login" not in again.output  # shown once; the file keeps it
    assert kept.read_text().endswith(f"password: {password}\n")

    client = TestClient(create_app(get_settings(), doorbell=Rings()), follow_redirects=False)
    token = csrf_of(client.get("/admin/login").text)
    answer = client.post(
        "/admin/login", data={"email": address, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_demo_workshop_reminder_lands_in_the_outbox_with_a_calendar_file(cli: Cli) -> None:
    """What `make run` shows: minutes after the start, the workshop's reminder is sent."""
    from datetime import timedelta

    import vobject
    from fastapi.testclient import TestClient
    from icalendar import Calendar

    from dispatch.config import get_settings
    from dispatch.demo import demo_agenda_seeded_at
    from dispatch.editions import reminders
    from tests.editions.delivered import calendar_of, outbox, send_due

    assert cli("demo").exit_code == 0
    settings = get_settings()
    sessions = cli.sessions()
    with sessions() as session:
        seeded = demo_agenda_seeded_at(session, settings)
    assert seeded is not None
    due = seeded + timedelta(minutes=10)
    with sessions() as session, session.begin():
        assert reminders.create_due_reminders(session, settings, now=due).created

    send_due(sessions, settings, due)

    received = outbox(settings)
    reminded = {
        address: message
        for address, messages in received.items()
        for message in messages
        if str(message["Subject"]).startswith("Rappel")
    }
    assert sorted(reminded) == ["claire.agent@example.org", "karim.lab@example.org"]
    method, calendar = calendar_of(reminded["claire.agent@example.org"])
    assert method == "PUBLISH"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]).startswith("Atelier découverte")
    part = next(
        p
        for p in reminded["claire.agent@example.org"].iter_attachments()
        if p.get_content_type() == "text/calendar"
    )
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert vobject.readOne(payload.decode()).vevent.summary.value.startswith("Atelier découverte")

    # And every demo event has its calendar file online.
    events = json.loads(cli("events", "list", "--json", "--limit", "100").output)
    client = TestClient(create_app(settings, engine=cli.engine))
    for event in events:
        response = client.get(f"/events/{event['id']}.ics")
        assert response.status_code == 200, event["title"]
        assert Calendar.from_ical(response.content).walk("VEVENT")
