"""`dispatch events`: the demo's events, their reminder schedule, and reminders off for one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from dispatch.config import get_settings
from dispatch.demo import WORKSHOP_REMINDER_DELAY, demo_agenda_seeded_at
from dispatch.i18n import staff_time
from tests.conftest import Cli

WORKSHOP = "Atelier découverte : le design des politiques publiques en 90 minutes"


def _seeded(cli: Cli) -> datetime:
    assert cli("demo").exit_code == 0
    with cli.sessions()() as session:
        seeded = demo_agenda_seeded_at(session, get_settings())
    assert seeded is not None
    return seeded


def _schedule(cli: Cli, *args: str) -> list[dict[str, object]]:
    result = cli("events", "reminders", "--dry-run", "--json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.output)["reminders"]
    return rows


def test_the_demo_events_show_their_reminder_schedule(cli: Cli) -> None:
    seeded = _seeded(cli)
    result = cli("events", "reminders", "--dry-run")
    assert result.exit_code == 0, result.output
    assert WORKSHOP in result.output
    # Its day-before reminder falls due minutes after the demo was seeded.
    workshop = [row for row in _schedule(cli) if row["title"] == WORKSHOP]
    assert [(row["offset_days"], row["state"]) for row in workshop] == [
        (7, "missed"),
        (1, "planned"),
    ]
    due = datetime.fromisoformat(str(workshop[1]["due_at"]))
    assert WORKSHOP_REMINDER_DELAY <= due - seeded <= WORKSHOP_REMINDER_DELAY + timedelta(minutes=6)
    assert workshop[1]["readers"] == 2  # the two active readers of events; the paused one waits
    at = staff_time(due + timedelta(minutes=1))
    later = [row for row in _schedule(cli, "--at", at) if row["title"] == WORKSHOP]
    assert later[1]["state"] == "due"


def test_at_only_shows_a_schedule(cli: Cli) -> None:
    _seeded(cli)
    result = cli("events", "reminders", "--at", "2027-03-10 09:00")
    assert result.exit_code == 1
    assert "--dry-run" in result.output


def test_staff_turn_reminders_off_for_one_event(cli: Cli) -> None:
    _seeded(cli)
    rows = json.loads(cli("events", "list", "--json").output)
    workshop = next(row for row in rows if row["title"] == WORKSHOP)
    result = cli("events", "reminders-off", str(workshop["id"]))
    assert result.exit_code == 0 and "Reminders off" in result.output
    states = {row["state"] for row in _schedule(cli) if row["event"] == workshop["id"]}
    assert states == {"off"}
    assert "no reminders" in cli("events", "list").output
    cli("events", "reminders-on", str(workshop["id"]))
    assert "planned" in {row["state"] for row in _schedule(cli) if row["event"] == workshop["id"]}
    assert cli("events", "reminders-off", "999999").exit_code == 1


def test_multi_day_and_all_day_events_read_whole_in_the_lists(cli: Cli) -> None:
    _seeded(cli)
    listing = cli("events", "list").output
    assert "2027-03-18 – 2027-03-19 (all day)  Rencontres de la transformation publique" in listing
    items = cli("items", "list", "--kind", "event").output
    line = next(line for line in items.splitlines() if "Rencontres" in line)
    assert "2027-03-18 – 2027-03-19 (all day)" in line and "01:00" not in line
    shown = cli(
        "events",
        "show",
        str(
            next(
                row["id"]
                for row in json.loads(cli("events", "list", "--json").output)
                if row["title"].startswith("Rencontres")
            )
        ),
    )
    assert shown.exit_code == 0, shown.output
    assert "Calendar file: http://127.0.0.1:8000/events/" in shown.output


def test_only_a_wordpress_source_has_an_events_topic(cli: Cli) -> None:
    _seeded(cli)
    sources = json.loads(cli("sources", "list", "--json").output)
    ical = next(row for row in sources if row["kind"] == "ical")
    result = cli("sources", "set", str(ical["id"]), "--events-topic", "events")
    assert result.exit_code == 1
    assert "only a WordPress source" in result.output
    assert cli("sources", "set", str(ical["id"]), "--interval", "30").exit_code == 0
