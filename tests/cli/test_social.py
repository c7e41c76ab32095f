"""The `dispatch social` commands a staff member types, end to end on a temporary database."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from dispatch.config import get_settings
from dispatch.db import session_scope
from dispatch.social import service
from tests import factories
from tests.conftest import Cli
from tests.social.fakes import FakeMastodon


def _prepare(cli: Cli) -> list[dict]:
    """What the worker's beat tick does: posts for the new items."""
    with session_scope(cli.sessions()) as session:
        return [
            service.post_as_dict(p) for p in service.consume_publications(session, get_settings())
        ]


def _pick(cli: Cli, url: str = "https://example.org/rapport") -> None:
    if cli("topics", "list", "--json").output.strip() == "[]":
        assert cli("topics", "add", "onaime", "--fr", "On aime", "--en", "We like").exit_code == 0
    added = cli(
        "items", "add-pick", "--url", url, "--title", "Un rapport sur la participation",
        "--tag", "onaime", "--comment", "Très utile.",
    )  # fmt: skip
    assert added.exit_code == 0, added.output


def _add(cli: Cli, *args: str, input: str | None = None) -> dict:
    result = cli("social", "accounts", "add", *args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_review_edit_schedule_and_publish_to_the_outbox(cli: Cli) -> None:
    account = _add(
        cli, "--network", "bluesky", "--name", "Labo", "--handle", "labo.bsky.social",
        "--mode", "approval",
    )  # fmt: skip
    assert account["publishes_to"] == "outbox" and account["credentials"] == "none"
    _pick(cli)
    [post] = _prepare(cli)
    pid = str(post["id"])

    listed = json.loads(
        cli("social", "posts", "list", "--json", "--status", "awaiting_approval").stdout
    )
    assert [p["id"] for p in listed] == [post["id"]]
    assert listed[0]["text"].startswith("#onaime Un rapport sur la participation")

    too_long = cli("social", "posts", "edit", pid, "--text", "a" * 301)
    assert too_long.exit_code == 1
    assert "301 graphemes long; bluesky allows 300" in too_long.stderr
    edited = cli("social", "posts", "edit", pid, "--text", "À lire\u00a0: un rapport #onaime")
    assert edited.exit_code == 0, edited.output

    scheduled = cli("social", "posts", "schedule", pid, "--at", "2030-12-01 09:00")
    assert scheduled.exit_code == 0, scheduled.output
    shown = json.loads(cli("social", "posts", "show", pid, "--json").stdout)
    assert shown["status"] == "scheduled"
    assert shown["scheduled_at"] == "2030-12-01T08:00:00+00:00"  # Paris time, winter
    assert shown["text"] == "À lire\u00a0: un rapport #onaime"

    published = cli("social", "posts", "publish", pid)
    assert published.exit_code == 0, published.output
    [written] = list((cli.data_dir / "outbox" / "social").glob("*.json"))
    document = json.loads(written.read_text(encoding="utf-8"))
    assert document["text"] == "À lire\u00a0: un rapport #onaime"
    assert document["network"] == "bluesky" and document["account"] == "labo.bsky.social"
    assert written.resolve().as_uri() in published.stdout

    refused = cli("social", "posts", "cancel", pid)
    assert refused.exit_code == 1 and "published" in refused.stderr


def test_approve_and_cancel(cli: Cli) -> None:
    _add(cli, "--network", "mastodon", "--name", "M", "--url", "https://mastodon.example")
    _pick(cli, "https://example.org/a")
    _pick(cli, "https://example.org/b")
    first, second = (str(p["id"]) for p in _prepare(cli))

    assert cli("social", "posts", "approve", first, "--by", "camille").exit_code == 0
    assert cli("social", "posts", "cancel", second).exit_code == 0
    rows = {str(p["id"]): p for p in json.loads(cli("social", "posts", "list", "--json").stdout)}
    assert rows[first]["status"] == "scheduled" and rows[first]["approved_by"] == "camille"
    assert rows[second]["status"] == "cancelled"
    again = cli("social", "posts", "publish", second)
    assert again.exit_code == 1 and "cancelled" in again.stderr
    assert cli("social", "posts", "show", "999").exit_code == 1


def test_a_refused_post_shows_the_networks_reason(cli: Cli, monkeypatch) -> None:
    mastodon = FakeMastodon()
    with mastodon:
        mastodon.max_characters = 20
        monkeypatch.setenv("DISPATCH_LAB_MASTODON_ACCESS_TOKEN", mastodon.token)
        account = _add(
            cli, "--network", "mastodon", "--name", "Lab", "--url", mastodon.url,
            "--credentials-env", "DISPATCH_LAB_MASTODON",
        )  # fmt: skip
        assert account["publishes_to"] == "mastodon"
        _pick(cli)
        [post] = _prepare(cli)

        result = cli("social", "posts", "publish", str(post["id"]))

    assert result.exit_code == 1
    assert "Text character limit of 20 exceeded" in result.stderr
    listed = cli("social", "posts", "list", "--status", "failed")
    assert "Text character limit of 20 exceeded" in listed.stdout
    assert mastodon.statuses == []


def test_credentials_are_asked_stored_encrypted_and_never_shown(cli: Cli, monkeypatch) -> None:
    monkeypatch.setenv("DISPATCH_SOCIAL__CREDENTIALS_KEY", Fernet.generate_key().decode())
    account = _add(
        cli, "--network", "linkedin", "--name", "Page", "--handle", "2414183",
        "--store-credentials", "--token-expires-in-days", "60",
        input="li-access-s3cret\nli-refresh-s3cret\nclient-id\nclient-s3cret\n",
    )  # fmt: skip
    assert account["credentials"] == "stored encrypted"
    listed = cli("social", "accounts", "list", "--json")
    plain = cli("social", "accounts", "list")
    for output in (json.dumps(account), listed.output, plain.output):
        assert "s3cret" not in output
    assert "stored encrypted" in plain.stdout


def test_credentials_from_the_environment_are_named_not_shown(cli: Cli) -> None:
    result = cli(
        "social", "accounts", "add", "--network", "bluesky", "--name", "B",
        "--handle", "lab.bsky.social", "--credentials-env", "DISPATCH_BSKY_LAB",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "DISPATCH_BSKY_LAB_APP_PASSWORD is not set here" in result.stderr
    [row] = json.loads(cli("social", "accounts", "list", "--json").stdout)
    assert row["credentials"] == "environment (DISPATCH_BSKY_LAB_APP_PASSWORD)"


def test_disable_and_bad_input(cli: Cli) -> None:
    account = _add(cli, "--network", "linkedin", "--name", "Page", "--handle", "2414183")
    assert cli("social", "accounts", "disable", str(account["id"])).exit_code == 0
    [row] = json.loads(cli("social", "accounts", "list", "--json").stdout)
    assert row["enabled"] is False
    bad = cli("social", "accounts", "add", "--network", "friendster", "--name", "x")
    assert bad.exit_code == 1 and "unknown network" in bad.stderr
    bad_mode = cli(
        "social", "accounts", "add", "--network", "linkedin", "--name", "x",
        "--handle", "1", "--mode", "sometimes",
    )  # fmt: skip
    assert bad_mode.exit_code == 1 and "unknown mode" in bad_mode.stderr
    bad_time = cli("social", "posts", "schedule", "1", "--at", "next tuesday")
    assert bad_time.exit_code == 1 and "2026-12-01 09:00" in bad_time.stderr


@pytest.mark.parametrize("approve", [False, True])
def test_announce_an_edition(cli: Cli, approve: bool) -> None:
    _add(cli, "--network", "mastodon", "--name", "M", "--url", "https://m.example")
    with session_scope(cli.sessions()) as session:
        edition_id = factories.edition(session, subject="La lettre de décembre", status="sent").id
    args = ["social", "announce", str(edition_id), "--json"] + (["--approve"] if approve else [])
    result = cli(*args)
    assert result.exit_code == 0, result.output
    [post] = json.loads(result.stdout)
    assert post["edition_id"] == edition_id
    assert post["status"] == ("scheduled" if approve else "awaiting_approval")
    assert "La lettre de décembre" in post["text"]
    missing = cli("social", "announce", "999")
    assert missing.exit_code == 1 and "no edition 999" in missing.stderr
