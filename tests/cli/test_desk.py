"""`dispatch desk` and `dispatch topics policy`, as staff type them, on a temporary database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from dispatch.config import get_settings
from dispatch.db import session_scope, utcnow
from dispatch.editions import alerts
from dispatch.social import service
from tests import factories
from tests.conftest import Cli


@pytest.fixture(autouse=True)
def operator_again() -> Iterator[None]:
    """Each test starts as the operator, whatever `--as` an earlier command gave."""
    from dispatch.cli.support import set_identity

    set_identity(None)
    yield
    set_identity(None)


def _ok(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _pick_on_approval(cli: Cli) -> int:
    """An "onaime" pick (topic on approval), an automatic account, and the social tick."""
    _ok(cli, "topics", "add", "onaime", "--fr", "On aime", "--en", "We like")
    _ok(cli, "topics", "policy", "onaime", "approval")
    _ok(
        cli, "social", "accounts", "add", "--network", "bluesky", "--name", "Labo",
        "--handle", "labo.bsky.social", "--mode", "automatic",
    )  # fmt: skip
    _ok(
        cli, "items", "add-pick", "--url", "https://example.org/rapport",
        "--title", "Un rapport sur la participation", "--tag", "onaime",
    )  # fmt: skip
    with session_scope(cli.sessions()) as session:
        factories.subscriber(session, topics={"onaime": "immediately"})
        service.consume_publications(session, get_settings())
    [row] = json.loads(_ok(cli, "desk", "list", "--json"))
    return int(row["item_id"])


def test_list_approve_only_then_hold_with_the_audit_naming_who(cli: Cli) -> None:
    item_id = _pick_on_approval(cli)
    [row] = json.loads(_ok(cli, "desk", "list", "--json"))
    assert row["state"] == "pending" and row["policy"] == "approval"
    assert row["topics"] == ["onaime"]
    account = row["posts"][0]["account_id"]
    assert row["channels"] == {
        "alert": "waiting",
        "digest": "waiting",
        "letter": "waiting",
        "social": "waiting",
        f"social:{account}": "waiting",
    }
    assert row["posts"][0]["text"].startswith("#onaime")
    assert "waits" in _ok(cli, "desk", "list")
    assert "onaime" in _ok(cli, "topics", "list") and "desk: approval" in _ok(cli, "topics", "list")

    _ok(cli, "staff", "add", "claire@example.org", "--role", "editor")
    _ok(cli, "--as", "claire@example.org", "desk", "approve", str(item_id), "--only", "alert")
    [row] = json.loads(_ok(cli, "desk", "list", "--json"))
    assert row["channels"]["alert"] == "released"
    assert row["channels"][f"social:{account}"] == "waiting"
    with session_scope(cli.sessions()) as session:
        later = utcnow() + timedelta(minutes=20)  # the burst's quiet period is over
        report = alerts.create_alerts(session, get_settings(), now=later)
    assert len(report.created) == 1

    _ok(cli, "desk", "hold", str(item_id))
    [row] = json.loads(_ok(cli, "desk", "list", "--json"))
    assert row["state"] == "held" and row["posts"][0]["status"] == "cancelled"
    audit = json.loads(_ok(cli, "staff", "audit", "--json"))
    actions = [(r["action"], r["actor"]) for r in audit]
    assert ("desk.approved", "claire@example.org") in actions
    assert any(a == "desk.held" and who.startswith("operator:") for a, who in actions)


def test_an_author_may_not_approve_and_channels_switch_alone(cli: Cli) -> None:
    item_id = _pick_on_approval(cli)
    _ok(cli, "staff", "add", "auteur@example.org", "--role", "author")
    refused = cli("--as", "auteur@example.org", "desk", "approve", str(item_id))
    assert refused.exit_code == 3 and "it needs social.approve" in refused.output
    from dispatch.cli.support import set_identity

    set_identity(None)
    _ok(cli, "desk", "channel", str(item_id), "social", "off")
    _ok(cli, "desk", "approve", str(item_id))
    [row] = json.loads(_ok(cli, "desk", "list", "--json"))
    assert row["state"] == "approved"
    assert row["channels"]["alert"] == "released" and row["channels"]["social"] == "off"
    assert row["posts"][0]["status"] == "cancelled"

    unknown = cli("desk", "channel", str(item_id), "fax", "on")
    assert unknown.exit_code == 1 and "unknown channel 'fax'" in unknown.output
    missing = cli("desk", "approve", "999")
    assert missing.exit_code == 1 and "there is no item 999" in missing.output
    bad = cli("topics", "policy", "onaime", "sometimes")
    assert bad.exit_code == 1 and "unknown policy" in bad.output
