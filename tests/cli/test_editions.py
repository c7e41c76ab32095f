"""`dispatch editions` composing commands, end to end on an embedded-mode database."""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dispatch.audience.models import Subscriber
from dispatch.config import get_settings
from dispatch.db import utcnow
from dispatch.delivery.models import Delivery
from dispatch.editions.models import Edition
from dispatch.web.app import create_app
from tests import factories
from tests.conftest import Cli
from tests.doorbells import Rings

HEADERS_ONCE = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Content-Language",
    "MIME-Version",
    "Content-Type",
)


def _content(cli: Cli) -> dict[str, int]:
    """Two posts, an upcoming event and a pick; returns their ids by name."""
    now = utcnow()
    with cli.sessions()() as session:
        ids = {
            "old": factories.item(
                session, title="Un vieil article", published_at=now - timedelta(days=60)
            ).id,
            "post": factories.item(
                session, title="Dépliez l'évaluation", published_at=now - timedelta(days=2)
            ).id,
            "event": factories.item(
                session,
                kind="event",
                title="Assemblée générale",
                topics=["events"],
                published_at=now - timedelta(days=1),
                event_start=now + timedelta(days=10),
            ).id,
            "pick": factories.item(
                session,
                kind="pick",
                tag="onaime",
                title="Un podcast",
                topics=["onaime"],
                published_at=now - timedelta(hours=3),
            ).id,
        }
        session.commit()
    return ids


def _ok(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


def _edition(cli: Cli, edition_id: int) -> dict[str, object]:
    data: dict[str, object] = json.loads(_ok(cli, "editions", "show", str(edition_id), "--json"))
    return data


def test_new_takes_recent_items_in_order_and_show_and_list_tell_it(cli: Cli) -> None:
    ids = _content(cli)
    output = _ok(cli, "editions", "new", "--subject", "La lettre de novembre")
    assert "Edition 1 created (draft, 3 items)" in output

    shown = _edition(cli, 1)
    assert shown["status"] == "draft"
    assert [row["id"] for row in shown["items"]] == [ids["post"], ids["event"], ids["pick"]]  # type: ignore[attr-defined]
    text = _ok(cli, "editions", "show", "1")
    assert "La lettre de novembre" in text and "Assemblée générale" in text

    listed = json.loads(_ok(cli, "editions", "list", "--json"))
    assert [(row["id"], row["subject"], row["items"]) for row in listed] == [
        (1, "La lettre de novembre", 3)
    ]
    assert "La lettre de novembre" in _ok(cli, "editions", "list")


def test_new_with_items_since_topic_locale_and_intro(cli: Cli, tmp_path: Path) -> None:
    ids = _content(cli)
    intro = tmp_path / "intro.md"
    intro.write_text("Bonjour à **toutes et à tous**.\n", encoding="utf-8")
    _ok(
        cli,
        "editions", "new", "--subject", "Choisis",
        "--items", f"{ids['pick']},{ids['old']}", "--items", str(ids["post"]),
        "--intro", str(intro), "--locale", "en", "--topic", "blog",
    )  # fmt: skip
    chosen = _edition(cli, 1)
    assert [row["id"] for row in chosen["items"]] == [ids["pick"], ids["old"], ids["post"]]  # type: ignore[attr-defined]
    assert chosen["locale"] == "en"
    assert chosen["audience"] == {"topics": ["blog"]}
    assert chosen["intro"] == "Bonjour à **toutes et à tous**."

    since = (utcnow() - timedelta(days=90)).strftime("%Y-%m-%d")
    _ok(cli, "editions", "new", "--subject", "Tout", "--since", since)
    assert len(_edition(cli, 2)["items"]) == 4  # type: ignore[arg-type]


def test_new_and_edit_refuse_bad_input_with_a_clear_message(cli: Cli) -> None:
    ids = _content(cli)
    for args, message in (
        (("--subject", "x", "--items", "424242"), "No item with id 424242"),
        (("--subject", "x", "--items", "abc"), "not an item id"),
        (("--subject", "x", "--since", "hier"), "is not a date"),
        (("--subject", "x", "--topic", "nope"), "unknown topic"),
        (("--subject", "", "--items", str(ids["post"])), "subject is empty"),
        (("--subject", "x", "--intro", "/nonexistent/intro.md"), "Cannot read"),
    ):
        result = cli("editions", "new", *args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert json.loads(_ok(cli, "editions", "list", "--json")) == []
    missing = cli("editions", "show", "77")
    assert missing.exit_code == 1 and "Edition 77 does not exist" in missing.output


def test_edit_changes_subject_intro_and_order_only_before_sending(cli: Cli, tmp_path: Path) -> None:
    ids = _content(cli)
    _ok(cli, "editions", "new", "--subject", "Avant", "--items", f"{ids['post']},{ids['pick']}")
    intro = tmp_path / "intro.md"
    intro.write_text("Nouvelle *introduction*", encoding="utf-8")
    _ok(
        cli, "editions", "edit", "1", "--subject", "Après", "--intro", str(intro),
        "--items", f"{ids['pick']},{ids['event']},{ids['post']}",
    )  # fmt: skip
    edited = _edition(cli, 1)
    assert edited["subject"] == "Après"
    assert edited["intro"] == "Nouvelle *introduction*"
    assert [row["id"] for row in edited["items"]] == [ids["pick"], ids["event"], ids["post"]]  # type: ignore[attr-defined]

    assert cli("editions", "edit", "1").exit_code != 0  # nothing to change
    _ok(cli, "editions", "edit", "1", "--topic", "blog")
    assert _edition(cli, 1)["audience"] == {"topics": ["blog"]}
    wrong = cli("editions", "edit", "1", "--topic", "nope")
    assert wrong.exit_code == 1 and "unknown topic" in wrong.output
    _ok(cli, "editions", "edit", "1", "--every-topic")
    assert _edition(cli, 1)["audience"] == {}
    with cli.sessions()() as session:
        row = session.get(Edition, 1)
        assert row is not None
        row.status = "sent"
        session.commit()
    refused = cli("editions", "edit", "1", "--subject", "Trop tard")
    assert refused.exit_code == 1
    assert "only a draft or scheduled edition can be edited" in refused.output
    assert _edition(cli, 1)["subject"] == "Après"


def test_an_english_version_is_composed_edited_and_test_sent(cli: Cli, tmp_path: Path) -> None:
    _content(cli)
    intro_en = tmp_path / "intro.en.md"
    intro_en.write_text("Hello *everyone*", encoding="utf-8")
    _ok(
        cli, "editions", "new", "--subject", "La lettre", "--subject-en", "The letter",
        "--intro-en", str(intro_en),
    )  # fmt: skip
    assert _edition(cli, 1)["translations"] == {
        "en": {"subject": "The letter", "preheader": "", "intro": "Hello *everyone*"}
    }
    _ok(cli, "editions", "edit", "1", "--preheader-en", "In short")  # the rest stays
    assert _edition(cli, 1)["translations"] == {
        "en": {"subject": "The letter", "preheader": "In short", "intro": "Hello *everyone*"}
    }
    assert "In en: The letter" in _ok(cli, "editions", "show", "1")

    _ok(cli, "editions", "test-send", "1", "--to", "moi@example.org", "--locale", "en")
    _ok(cli, "editions", "test-send", "1", "--to", "moi@example.org", "--locale", "fr")
    outbox = cli.data_dir / "outbox" / "mail"
    sent = [_parse(path) for path in sorted(outbox.glob("*.eml"))]
    assert sorted(str(m["Subject"]) for m in sent) == ["[Test] La lettre", "[Test] The letter"]
    english = next(m for m in sent if "The letter" in str(m["Subject"]))
    plain = english.get_body(("plain",))
    assert plain is not None and "Hello everyone" in plain.get_content()
    assert "Unsubscribe" in plain.get_content()

    _ok(cli, "editions", "edit", "1", "--no-english")
    assert _edition(cli, 1)["translations"] == {}
    refused = cli("editions", "edit", "1", "--intro-en", str(intro_en))
    assert refused.exit_code == 1 and "English version has no subject" in refused.output


def _parse(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_preview_writes_html_text_and_an_eml_that_parses(cli: Cli, tmp_path: Path) -> None:
    _content(cli)
    _ok(
        cli,
        "editions",
        "new",
        "--subject",
        "La lettre « d'automne »",
        "--subject-en",
        "The « autumn » letter",
    )
    out = tmp_path / "preview"
    output = _ok(cli, "editions", "preview", "1", "--out", str(out), "--locale", "en")
    html, text, eml = (out / f"edition-1-en.{ext}" for ext in ("html", "txt", "eml"))
    assert all(str(path) in output for path in (html, text, eml))

    assert html.read_text().lstrip().lower().startswith("<!doctype html>")
    assert 'lang="en"' in html.read_text()
    assert "Dépliez l'évaluation" in text.read_text()
    assert "Unsubscribe" in text.read_text()

    message = _parse(eml)
    counts = Counter(name.lower() for name in message)
    assert {name: counts[name.lower()] for name in HEADERS_ONCE} == dict.fromkeys(HEADERS_ONCE, 1)
    assert message["Subject"] == "The « autumn » letter"  # English: no French spacing
    assert message["Content-Language"] == "en"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    assert "Dépliez l'évaluation" in plain.get_content()
    assert rich.get_content().replace("\r\n", "\n") == html.read_text()


def test_the_one_click_link_of_a_previewed_eml_unsubscribes(cli: Cli, tmp_path: Path) -> None:
    _content(cli)
    with cli.sessions()() as session:
        reader = factories.subscriber(session, email="camille@example.org")
        session.commit()
        reader_id = reader.id
    _ok(cli, "editions", "new", "--subject", "Lettre")
    out = tmp_path / "preview"
    _ok(cli, "editions", "preview", "1", "--out", str(out), "--as", "camille@example.org")
    message = _parse(out / "edition-1-fr.eml")
    assert "camille@example.org" in str(message["To"])
    first = str(message["List-Unsubscribe"]).split(",")[0].strip()
    url = urlsplit(first.strip("<>"))

    app = create_app(get_settings(), engine=cli.engine, doorbell=Rings())
    response = TestClient(app).post(url.path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200, response.text

    with cli.sessions()() as session:
        subscriber = session.get(Subscriber, reader_id)
        assert subscriber is not None
        assert subscriber.status == "unsubscribed"


def test_test_send_lands_in_the_outbox_marked_and_touches_no_delivery(cli: Cli) -> None:
    _content(cli)
    _ok(cli, "editions", "new", "--subject", "Lettre de test")
    output = _ok(
        cli, "editions", "test-send", "1", "--to", "Moi@Example.org", "--to", "equipe@example.org"
    )
    assert "Test sent to moi@example.org" in output

    outbox = cli.data_dir / "outbox" / "mail"
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    messages = [_parse(path) for path in files]
    assert {str(m["To"]) for m in messages} == {"moi@example.org", "equipe@example.org"}
    for message in messages:
        assert message["Subject"] == "[Test] Lettre de test"
        assert message["X-Dispatch-Test"] == "yes"
        assert len(message.get_all("Subject") or []) == 1

    with cli.sessions()() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        edition = session.get(Edition, 1)
        assert edition is not None and edition.status == "draft"


def test_test_send_refuses_bad_addresses_and_sends_nothing(cli: Cli) -> None:
    _content(cli)
    _ok(cli, "editions", "new", "--subject", "Lettre")
    for bad in ("pas-une-adresse", "moi@example.org\r\nBcc: tous@example.org"):
        result = cli("editions", "test-send", "1", "--to", "ok@example.org", "--to", bad)
        assert result.exit_code == 1
        assert "Not an email address" in result.output
    assert not list((cli.data_dir / "outbox" / "mail").glob("*.eml"))
    missing = cli("editions", "test-send", "9", "--to", "ok@example.org")
    assert missing.exit_code == 1 and "Edition 9 does not exist" in missing.output


def test_sections_are_given_with_heading_options(cli: Cli) -> None:
    ids = _content(cli)
    _ok(
        cli, "editions", "new", "--subject", "La lettre", "--subject-en", "The letter",
        "--items", f"{ids['post']},{ids['pick']}",
        "--heading", f"{ids['pick']}=À lire", "--heading-en", f"{ids['pick']}=To read",
    )  # fmt: skip
    shown = _ok(cli, "editions", "show", "1")
    assert "— section — fr: À lire / en: To read" in shown
    assert _edition(cli, 1)["items"][1]["heading"] == {"fr": "À lire", "en": "To read"}  # type: ignore[index]
    missing = cli("editions", "edit", "1", "--heading", f"{ids['post']}=Agenda")
    assert missing.exit_code == 1 and "no English title" in missing.output
    wrong = cli("editions", "edit", "1", "--heading", "Agenda")
    assert wrong.exit_code != 0 and "ITEM=TITLE" in wrong.output
