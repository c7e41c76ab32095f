"""`dispatch subscribers …` as staff type it: import, export, add/show/list and GDPR."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from dispatch.audience import mail_requests
from dispatch.audience.models import Subscriber
from dispatch.config import get_settings
from dispatch.db import utcnow
from dispatch.delivery import transactional
from dispatch.delivery.transport import for_settings
from dispatch.demo import ensure_topics
from tests.conftest import Cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audience"


@pytest.fixture
def staff(cli: Cli) -> Cli:
    with cli.sessions()() as session:
        ensure_topics(session)
        session.commit()
    return cli


def count(cli: Cli) -> int:
    with cli.sessions()() as session:
        return session.scalar(select(func.count()).select_from(Subscriber)) or 0


def test_import_adds_every_row_and_export_reads_back(staff: Cli) -> None:
    result = staff(
        "subscribers",
        "import",
        str(FIXTURES / "import-good.csv"),
        "--consent-source",
        "Fiche d’inscription, AG 2024",
    )
    assert result.exit_code == 0, result.output
    assert "3 subscriber(s) imported" in result.output

    exported = staff("subscribers", "export", "--csv")
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(exported.output))}
    assert set(rows) == {
        "camille.martin@example.org",
        "j.smith@example.org",
        "agent.public@example.fr",
    }
    assert rows["camille.martin@example.org"]["topics"] == "blog:weekly;events:immediately"
    assert rows["j.smith@example.org"]["language"] == "en"
    assert all(row["status"] == "active" for row in rows.values())

    again = staff(
        "subscribers", "import", str(FIXTURES / "import-good.csv"), "--consent-source", "again"
    )
    assert again.exit_code == 0
    assert "0 subscriber(s) imported (no email sent), 3 skipped" in again.output
    history = json.loads(staff("subscribers", "export", "camille.martin@example.org").output)
    assert [e["action"] for e in history["consent_history"]] == ["import"]
    assert history["consent_history"][0]["source"] == "import: Fiche d’inscription, AG 2024"


def sweep_mail_as_beat_would(cli: Cli) -> int:
    """Every email the mail sweep finds owed, well after its grace, sent to the outbox;
    returns how many .eml files the outbox then holds."""
    settings = get_settings()
    kinds = {task: kind for kind, task in mail_requests.TASKS.items()}
    with cli.sessions()() as session:
        owed = mail_requests.unsent(session, now=utcnow() + timedelta(minutes=10))
        for task, subscriber_id in owed:
            transactional.send(
                session, settings, kinds[task], subscriber_id, for_settings(settings)
            )
        session.commit()
    return len(list(settings.mail_outbox_dir.glob("*.eml")))


def test_an_import_welcomes_nobody_unless_asked(staff: Cli, tmp_path: Path) -> None:
    sheet = tmp_path / "salon.csv"
    sheet.write_text("email\n" + "".join(f"salon{n}@example.org\n" for n in range(5)))
    result = staff("subscribers", "import", str(sheet), "--consent-source", "salon 2024")
    assert result.exit_code == 0, result.output
    assert "5 subscriber(s) imported (no email sent)" in result.output
    assert sweep_mail_as_beat_would(staff) == 0
    history = json.loads(staff("subscribers", "export", "salon0@example.org").output)
    assert [e["action"] for e in history["consent_history"]] == ["import"]

    other = tmp_path / "ag.csv"
    other.write_text("email,language\n" + "".join(f"ag{n}@example.org,en\n" for n in range(3)))
    welcomed = staff(
        "subscribers", "import", str(other), "--consent-source", "AG 2024", "--welcome"
    )
    assert "3 subscriber(s) imported (each welcomed by email)" in welcomed.output
    assert sweep_mail_as_beat_would(staff) == 3
    assert sweep_mail_as_beat_would(staff) == 3  # once each, however often the sweep runs


def test_a_file_with_invalid_rows_changes_nothing_and_says_where(staff: Cli) -> None:
    result = staff(
        "subscribers", "import", str(FIXTURES / "import-bad.csv"), "--consent-source", "salon"
    )
    assert result.exit_code == 1
    output = result.output + (result.stderr or "")
    assert "line 3 (pas-une-adresse): email" in output
    assert "line 4 (autre@example.org): language" in output
    assert "line 5 (troisieme@example.org): topics" in output
    assert "line 6 (ok@example.org): same address as line 2" in output
    assert "nothing was imported" in output
    assert count(staff) == 0


def test_unsubscribed_people_are_not_imported_back(staff: Cli, tmp_path: Path) -> None:
    staff("subscribers", "add", "parti@example.org", "--consent-source", "salon")
    staff("subscribers", "erase", "parti@example.org", "--yes")
    sheet = tmp_path / "old.csv"
    sheet.write_text("email\nparti@example.org\nnouveau@example.org\n", encoding="utf-8")
    result = staff("subscribers", "import", str(sheet), "--consent-source", "vieux fichier")
    assert result.exit_code == 0
    assert "skipped line 2 (parti@example.org): suppressed (erased)" in result.output
    assert "1 subscriber(s) imported" in result.output


def test_gdpr_export_then_erase(staff: Cli) -> None:
    added = staff(
        "subscribers",
        "add",
        "Lucie@Example.org",
        "--name",
        "Lucie",
        "--topics",
        "events:immediately",
        "--consent-source",
        "carte de visite",
    )
    assert added.exit_code == 0, added.output
    data = json.loads(staff("subscribers", "export", "lucie@example.org").output)
    assert data["subscriber"]["email"] == "lucie@example.org"
    assert data["subscriber"]["topics"] == {"events": "immediately"}
    assert data["consent_history"][0]["source"] == "carte de visite"

    erased = staff("subscribers", "erase", "lucie@example.org", "--yes")
    assert erased.exit_code == 0 and "erased" in erased.output
    after = json.loads(staff("subscribers", "export", "lucie@example.org").output)
    assert after == {"subscriber": None, "suppressed": "erased", "consent_history": []}
    assert staff("subscribers", "show", "lucie@example.org").exit_code == 1
    refused = staff("subscribers", "add", "lucie@example.org", "--consent-source", "again")
    assert refused.exit_code == 1


def test_add_show_list_and_their_errors(staff: Cli) -> None:
    assert staff("subscribers", "add", "a@example.org", "--consent-source", "x").exit_code == 0
    confirm = staff("subscribers", "add", "b@example.org", "--language", "en", "--confirm")
    assert confirm.exit_code == 0, confirm.output
    assert "confirmation email sent" in confirm.output
    assert len(list((staff.data_dir / "outbox" / "mail").glob("*.eml"))) == 1

    shown = json.loads(staff("subscribers", "show", "b@example.org", "--json").output)
    assert shown["status"] == "pending" and shown["language"] == "en"
    listing = staff("subscribers", "list")
    assert "1 pending" in listing.output and "1 active" in listing.output
    assert [r["email"] for r in json.loads(staff("subscribers", "list", "--json").output)] == [
        "b@example.org",
        "a@example.org",
    ]
    assert staff("subscribers", "add", "c@example.org").exit_code == 1  # no consent source
    bad = staff("subscribers", "add", "d@example.org", "--consent-source", "x", "--topics", "x:y")
    assert bad.exit_code == 1


def test_purge_inactive_shows_then_asks_the_silent_reader(staff: Cli) -> None:
    staff("subscribers", "add", "silencieuse@example.org", "--consent-source", "salon 2021")
    with staff.sessions()() as session:
        reader = session.scalar(select(Subscriber))
        assert reader is not None
        reader.created_at = reader.confirmed_at = reader.last_engagement_at = utcnow().replace(
            year=2022
        )
        session.commit()
    dry = staff("subscribers", "purge-inactive", "--years", "3", "--dry-run")
    assert "ask " in dry.output and "silencieuse@example.org" in dry.output
    assert "1 would be asked whether they stay, 0 would be erased" in dry.output
    assert sweep_mail_as_beat_would(staff) == 0  # a dry run asks nobody

    done = staff("subscribers", "purge-inactive", "--years", "3")
    assert "1 asked whether they stay, 0 erased" in done.output
    assert sweep_mail_as_beat_would(staff) == 1
    (sent,) = (staff.data_dir / "outbox" / "mail").glob("*.eml")
    assert "/stay/" in sent.read_text()
    again = staff("subscribers", "purge-inactive", "--years", "3")
    assert "0 asked whether they stay, 0 erased, 1 waiting" in again.output
    assert count(staff) == 1


def test_purge_inactive_and_expire_pending_report_counts(staff: Cli) -> None:
    staff("subscribers", "add", "a@example.org", "--consent-source", "x")
    result = staff("subscribers", "purge-inactive", "--years", "3", "--dry-run")
    assert result.exit_code == 0
    assert "0 would be asked whether they stay, 0 would be erased" in result.output
    assert "0 unconfirmed" in staff("subscribers", "expire-pending").output


def test_the_letter_choice_goes_out_in_the_export_and_comes_back_in_an_import(
    staff: Cli, tmp_path: Path
) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "email,name,language,topics,lettre\n"
        "oui@example.org,Oui,fr,blog:weekly,oui\n"
        "non@example.org,Non,fr,blog:weekly,non\n"
        "vide@example.org,Vide,fr,blog:weekly,\n",
        encoding="utf-8",
    )
    assert staff("subscribers", "import", str(sheet), "--consent-source", "AG").exit_code == 0
    exported = staff("subscribers", "export", "--csv").output
    rows = {row["email"]: row["letter"] for row in csv.DictReader(io.StringIO(exported))}
    assert rows == {"oui@example.org": "yes", "non@example.org": "no", "vide@example.org": "yes"}

    # Read back into an empty list: the choice is kept, not reset to "yes".
    with staff.sessions()() as session:
        session.execute(delete(Subscriber))
        session.commit()
    again = tmp_path / "export.csv"
    again.write_text(exported, encoding="utf-8")
    assert staff("subscribers", "import", str(again), "--consent-source", "retour").exit_code == 0
    with staff.sessions()() as session:
        letters = dict(session.execute(select(Subscriber.email, Subscriber.letter)).all())
    assert letters == {"oui@example.org": True, "non@example.org": False, "vide@example.org": True}

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("email,letter\npeut-etre@example.org,peut-être\n", encoding="utf-8")
    refused = staff("subscribers", "import", str(wrong), "--consent-source", "x")
    assert refused.exit_code != 0 and "yes or no" in refused.output
