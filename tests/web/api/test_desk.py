"""The editorial desk over the API: listing, approving (all or some channels), holding,
switching channels and topic policies, with roles checked and refusals as problems."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dispatch.content import desk, publications
from dispatch.social import service as social
from tests import factories
from tests.web.staffsite import StaffSite, staff_site


@pytest.fixture(scope="module")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffSite]:
    yield from staff_site(request, tmp_path_factory.mktemp("desk-api"))


class Api:
    def __init__(self, site: StaffSite, role: str) -> None:
        self.client: TestClient = site.client(Authorization=f"Bearer {site.token(role)}")

    def __call__(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        answer = self.client.request(method, "/api/v1" + path, **kwargs)
        assert answer.status_code == expect, answer.text
        return answer.json() if answer.content else None


def _pending_item(site: StaffSite, title: str) -> tuple[int, int]:
    """An item of a topic on approval, with its post for an automatic account."""
    with site.session() as session:
        factories.topic(session, "blog", desk_policy="approval")
        account = social.list_accounts(session) or [
            social.add_account(
                session,
                site.settings,
                social.AccountSpec(
                    network="mastodon",
                    name="Masto",
                    base_url="https://mastodon.example",
                    mode="automatic",
                ),
            )
        ]
        item = factories.item(session, topics=["blog"], title=title)
        publications.fire_publication(session, item.id)
        social.consume_publications(session, site.settings)
        session.commit()
        return item.id, account[0].id


def test_the_desk_is_listed_approved_and_held_by_api(site: StaffSite) -> None:
    editor, viewer, owner = Api(site, "editor"), Api(site, "viewer"), Api(site, "owner")
    first, account = _pending_item(site, "Premier billet")
    second, _ = _pending_item(site, "Second billet")

    page = viewer("GET", "/desk", params={"limit": 1})
    assert [d["item_id"] for d in page["items"]] == [second]  # newest first
    rest = viewer("GET", "/desk", params={"limit": 1, "cursor": page["next_cursor"]})
    assert [d["item_id"] for d in rest["items"]] == [first] and rest["next_cursor"] is None
    one = page["items"][0]
    assert one["state"] == "pending" and one["channels"][f"social:{account}"] == "waiting"
    assert one["posts"][0]["limit"] == 500 and one["posts"][0]["length"] > 0

    refused = viewer("POST", f"/desk/{first}/approve", 403)
    assert refused["title"] == "Not allowed"

    partly = editor("POST", f"/desk/{first}/approve", json={"only": ["alert", "letter"]})
    assert partly["state"] == "pending"
    assert partly["channels"]["alert"] == "released" and partly["channels"]["digest"] == "waiting"
    switched = editor("POST", f"/desk/{first}/channels", json={"channels": {"digest": False}})
    assert switched["channels"]["digest"] == "off"
    whole = editor("POST", f"/desk/{first}/approve")
    assert whole["state"] == "approved" and whole["channels"]["social"] == "released"
    assert whole["decided_by"] == "editor@example.org"
    assert whole["posts"][0]["status"] == "scheduled"

    held = editor("POST", f"/desk/{second}/hold")
    assert held["state"] == "held" and held["posts"][0]["status"] == "cancelled"
    assert viewer("GET", "/desk")["items"] == []
    decided = viewer("GET", "/desk", params={"awaiting": "false"})["items"]
    assert {d["item_id"]: d["state"] for d in decided} == {first: "approved", second: "held"}

    assert editor("POST", "/desk/999/hold", 404)["detail"] == "item 999 is not on the desk"
    bad = editor("POST", f"/desk/{first}/approve", 422, json={"only": ["fax"]})
    assert bad["title"] == "Invalid input"
    on_held = editor("POST", f"/desk/{second}/channels", 422, json={"channels": {"alert": True}})
    assert "approve it first" in on_held["detail"]

    changed = editor("PUT", "/desk/policies/blog", json={"policy": "manual"})
    assert changed == {"slug": "blog", "desk_policy": "manual"}
    assert editor("PUT", "/desk/policies/nope", 422, json={"policy": "manual"})
    with site.session() as session:
        assert desk.decision_of(session, first).decided_by == "editor@example.org"  # type: ignore[union-attr]
    actions = [e["action"] for e in owner("GET", "/audit", params={"limit": 200})["items"]]
    for action in ("desk.approved", "desk.held", "desk.channel_changed", "desk.policy_changed"):
        assert action in actions
