"""`dispatch staff`: accounts, one-time links, API tokens, the audit trail, and `--as`."""

from __future__ import annotations

import email
import email.policy
import json
import re

import pytest
from fastapi.testclient import TestClient

from dispatch.config import get_settings
from dispatch.staff import accounts, tokens
from dispatch.web.app import create_app
from tests.conftest import Cli
from tests.doorbells import Rings
from tests.web.staffsite import csrf_of


@pytest.fixture(autouse=True)
def operator_again() -> None:
    """Each command run starts as the operator, whatever `--as` an earlier test gave."""
    from dispatch.cli.support import set_identity

    set_identity(None)


def _link(output: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000(/admin/password/\S+)", output)
    assert found, output
    return found.group(1)


def test_adding_a_member_prints_a_one_time_link_and_writes_the_email(cli: Cli) -> None:
    result = cli("staff", "add", "claire@example.org", "--role", "editor", "--name", "Claire")
    assert result.exit_code == 0, result.output
    assert "claire@example.org added as editor" in result.output
    assert "valid 48 h, once" in result.output
    assert "Invitation written to the outbox for claire@example.org." in result.output
    path = _link(result.output)
    [sent] = sorted((cli.data_dir / "outbox" / "mail").glob("*.eml"))
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["To"] == "Claire <claire@example.org>"
    assert path in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # The link works once, in the browser.
    client = TestClient(create_app(get_settings(), doorbell=Rings()), follow_redirects=False)
    page = client.get(path)
    assert page.status_code == 200 and "claire@example.org" in page.text
    done = client.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "password": "une phrase de passe longue",
            "again": "une phrase de passe longue",
        },
    )
    assert done.status_code == 303
    assert client.get(path).status_code == 410


def test_a_password_can_be_given_on_standard_input_instead(cli: Cli) -> None:
    result = cli(
        "staff", "add", "owner@example.org", "--role", "owner", "--password-stdin",
        input="une phrase de passe longue\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "with the password given" in result.output and "http" not in result.output
    assert "une phrase" not in result.output
    weak = cli(
        "staff", "add", "weak@example.org", "--role", "viewer", "--password-stdin", input="x\n"
    )
    assert weak.exit_code != 0 and "at least 12 characters" in weak.output
    with cli.sessions()() as session:
        assert accounts.find(session, "weak@example.org") is None  # nothing half-made


def test_list_role_disable_and_reset(cli: Cli) -> None:
    cli(
        "staff",
        "add",
        "a@example.org",
        "--role",
        "owner",
        "--password-stdin",
        input="p" * 6 + "qrstuv\n",
    )
    cli("staff", "add", "b@example.org", "--role", "author")
    listed = cli("staff", "list")
    assert re.search(r"a@example\.org\s+owner\s+active", listed.output)
    assert re.search(
        r"b@example\.org\s+author\s+active, invited \(no password yet\)", listed.output
    )
    assert cli("staff", "role", "b@example.org", "editor").exit_code == 0
    unknown = cli("staff", "role", "b@example.org", "boss")
    assert unknown.exit_code != 0 and "boss" in unknown.output
    assert cli("staff", "disable", "b@example.org").exit_code == 0
    rows = {r["email"]: r for r in json.loads(cli("staff", "list", "--json").output)}
    assert rows["b@example.org"]["role"] == "editor" and rows["b@example.org"]["active"] is False
    # The last active owner cannot be taken away: someone must be able to manage staff.
    last = cli("staff", "role", "a@example.org", "viewer")
    assert last.exit_code != 0 and "owner" in last.output
    reset = cli("staff", "reset", "a@example.org")
    assert reset.exit_code == 0 and "valid 2 h, once" in reset.output
    assert _link(reset.output)


def test_a_token_is_printed_once_and_stored_hashed(cli: Cli) -> None:
    cli("staff", "add", "site@example.org", "--role", "editor")
    made = cli(
        "staff", "token", "create", "site@example.org", "--name", "Site WordPress",
        "--scope", "write", "--expires", "30",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    [plain] = re.findall(r"\bdsp_[0-9a-f]{8}_\S+", made.output)
    with cli.sessions()() as session:
        row = tokens.authenticate(session, plain)
        assert row is not None and row.scope == "write" and row.expires_at is not None
        assert plain not in str(row.token_hash)
    listed = cli("staff", "token", "list")
    assert "Site WordPress" in listed.output and plain not in listed.output
    assert "write" in listed.output and "active" in listed.output
    token_id = json.loads(cli("staff", "token", "list", "--json").output)[0]["id"]
    assert cli("staff", "token", "revoke", str(token_id)).exit_code == 0
    with cli.sessions()() as session:
        assert tokens.authenticate(session, plain) is None
    bad = cli("staff", "token", "create", "site@example.org", "--name", "x", "--scope", "admin")
    assert bad.exit_code != 0 and "read or write" in bad.output


def test_as_a_member_a_command_is_refused_beyond_their_role(cli: Cli) -> None:
    cli("staff", "add", "auteur@example.org", "--role", "author")
    refused = cli("--as", "auteur@example.org", "staff", "add", "x@example.org", "--role", "owner")
    assert refused.exit_code == 3
    assert "auteur@example.org (author) may not do this: it needs staff.manage" in refused.output
    with cli.sessions()() as session:
        assert accounts.find(session, "x@example.org") is None
    nobody = cli("--as", "nobody@example.org", "staff", "list")
    assert nobody.exit_code == 3 and "no active staff account" in nobody.output
    allowed = cli("--as", "auteur@example.org", "staff", "audit")
    assert allowed.exit_code == 0


def test_the_audit_trail_says_who_did_what(cli: Cli) -> None:
    cli(
        "staff",
        "add",
        "chef@example.org",
        "--role",
        "owner",
        "--password-stdin",
        input="une phrase de passe longue\n",
    )
    cli("--as", "chef@example.org", "staff", "add", "stagiaire@example.org", "--role", "author")
    from dispatch.cli.support import set_identity

    set_identity(None)
    cli("staff", "role", "stagiaire@example.org", "viewer")
    rows = json.loads(cli("staff", "audit", "--json").output)
    actions = [(r["action"], r["actor"]) for r in rows]
    assert ("staff.added", "chef@example.org") in actions
    assert any(a == "staff.role_changed" and who.startswith("operator:") for a, who in actions)
    [change] = [r for r in rows if r["action"] == "staff.role_changed"]
    assert change["summary"] == {
        "email": "stagiaire@example.org",
        "before": "author",
        "after": "viewer",
    }
    assert change["via"] == "cli"
    text = cli("staff", "audit", "--action", "staff.added").output
    assert "stagiaire@example.org" in text or "staff.added" in text
    assert "staff.role_changed" not in text
