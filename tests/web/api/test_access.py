"""Who may call what: every API operation against every role, token scopes, the session.

`NEEDS` is the API's contract of who may do what, written out here on purpose: a route added
without an entry fails `test_every_operation_is_in_the_table`, and a route whose check drifts
from the table fails the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from dispatch.db import utcnow
from dispatch.staff.models import ApiToken
from dispatch.staff.roles import Permission
from tests import factories
from tests.web.staffsite import ROLES, StaffSite, csrf_of, staff_site

P = Permission
NEEDS: dict[tuple[str, str], Permission] = {
    ("GET", "/sources"): P.READ,
    ("POST", "/sources"): P.CONTENT,
    ("GET", "/sources/{source_id}"): P.READ,
    ("PATCH", "/sources/{source_id}"): P.CONTENT,
    ("DELETE", "/sources/{source_id}"): P.CONTENT,
    ("POST", "/sources/{source_id}/poll"): P.CONTENT,
    ("GET", "/items"): P.READ,
    ("GET", "/items/{item_id}"): P.READ,
    ("POST", "/picks"): P.CONTENT,
    ("GET", "/topics"): P.READ,
    ("POST", "/topics"): P.CONTENT,
    ("GET", "/editions"): P.READ,
    ("POST", "/editions"): P.DRAFT,
    ("GET", "/editions/{edition_id}"): P.READ,
    ("PATCH", "/editions/{edition_id}"): P.DRAFT,
    ("GET", "/editions/{edition_id}/preview"): P.READ,
    ("GET", "/editions/digests/{period}"): P.READ,
    ("POST", "/editions/digests"): P.SEND,
    ("POST", "/editions/{edition_id}/test-send"): P.DRAFT,
    ("POST", "/editions/{edition_id}/schedule"): P.SEND,
    ("POST", "/editions/{edition_id}/send"): P.SEND,
    ("POST", "/editions/{edition_id}/pause"): P.SEND,
    ("POST", "/editions/{edition_id}/resume"): P.SEND,
    ("POST", "/editions/{edition_id}/cancel"): P.SEND,
    ("GET", "/editions/{edition_id}/status"): P.READ,
    ("GET", "/editions/{edition_id}/links"): P.READ,
    ("GET", "/bounces/held"): P.READ,
    ("POST", "/bounces/held/{held_id}/apply"): P.BOUNCES,
    ("POST", "/bounces/held/{held_id}/discard"): P.BOUNCES,
    ("GET", "/health"): P.READ,
    ("GET", "/subscribers"): P.READ,
    ("POST", "/subscribers"): P.SUBSCRIBERS,
    ("GET", "/subscribers/export"): P.SUBSCRIBERS,
    ("GET", "/subscribers/export.csv"): P.SUBSCRIBERS,
    ("POST", "/subscribers/import"): P.SUBSCRIBERS,
    ("GET", "/subscribers/{subscriber_id}"): P.READ,
    ("DELETE", "/subscribers/{subscriber_id}"): P.SUBSCRIBERS,
    ("GET", "/social/accounts"): P.READ,
    ("GET", "/social/posts"): P.READ,
    ("GET", "/social/posts/{post_id}"): P.READ,
    ("PATCH", "/social/posts/{post_id}"): P.SOCIAL_PREPARE,
    ("POST", "/social/posts/{post_id}/approve"): P.SOCIAL_APPROVE,
    ("POST", "/social/posts/{post_id}/schedule"): P.SOCIAL_APPROVE,
    ("POST", "/social/posts/{post_id}/cancel"): P.SOCIAL_APPROVE,
    ("POST", "/social/posts/{post_id}/publish"): P.SOCIAL_APPROVE,
    ("GET", "/desk"): P.READ,
    ("GET", "/desk/{item_id}"): P.READ,
    ("POST", "/desk/{item_id}/approve"): P.SOCIAL_APPROVE,
    ("POST", "/desk/{item_id}/hold"): P.SOCIAL_APPROVE,
    ("POST", "/desk/{item_id}/channels"): P.SOCIAL_APPROVE,
    ("PUT", "/desk/policies/{slug}"): P.CONTENT,
    ("GET", "/bounces"): P.READ,
    ("GET", "/audit"): P.READ,
    ("GET", "/staff"): P.STAFF,
    ("POST", "/staff"): P.STAFF,
    ("PATCH", "/staff/{staff_id}"): P.STAFF,
    ("POST", "/staff/{staff_id}/reset"): P.STAFF,
    ("GET", "/staff/tokens"): P.STAFF,
    ("DELETE", "/staff/tokens/{token_id}"): P.STAFF,
}
#: What each role may do, as the issue states it (not read back from the code under test).
ALLOWED = {
    "owner": set(Permission),
    "editor": set(Permission) - {P.STAFF},
    "author": {P.READ, P.DRAFT, P.SOCIAL_PREPARE},
    "viewer": {P.READ},
}
OPERATIONS = sorted(NEEDS)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffSite]:
    yield from staff_site(
        request, tmp_path_factory.mktemp("api"), backend=request.param, name="dispatch_api_access"
    )


@pytest.fixture(scope="module")
def tokens(site: StaffSite) -> dict[tuple[str, str], str]:
    return {(role, scope): site.token(role, scope) for role in ROLES for scope in ("read", "write")}


def _call(client: TestClient, method: str, path: str, **headers: str) -> Any:
    """The operation on objects that do not exist, with a body that is not valid: nothing
    changes whatever the answer, and the role check is what decides between 403 and the rest."""
    url = "/api/v1" + "/".join("999999" if p.startswith("{") else p for p in path.split("/"))
    if path == "/subscribers/import":
        return client.request(
            method, url, content=b"", headers={"Content-Type": "text/csv", **headers}
        )
    body = {"json": {}} if method in ("POST", "PATCH") else {}
    return client.request(method, url, headers=headers, **body)


def test_every_operation_is_in_the_table(site: StaffSite) -> None:
    document = site.client().get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    published = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    assert published == set(NEEDS)
    for path, ops in document["paths"].items():
        for method, operation in ops.items():
            assert operation["security"] == [{"token": []}, {"session": []}], (method, path)
            assert "403" in operation["responses"] and "401" in operation["responses"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_without_a_token_every_operation_answers_401(
    site: StaffSite, method: str, path: str
) -> None:
    client = site.client()
    for headers in ({}, {"Authorization": "Bearer dsp_nothing_here"}, {"Authorization": "x"}):
        answer = _call(client, method, path, **headers)
        assert answer.status_code == 401, (method, path, headers)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_role_against_every_operation(
    site: StaffSite, tokens: dict[tuple[str, str], str], role: str, method: str, path: str
) -> None:
    client = site.client()
    answer = _call(client, method, path, Authorization=f"Bearer {tokens[role, 'write']}")
    if NEEDS[method, path] in ALLOWED[role]:
        assert answer.status_code not in (401, 403), (answer.status_code, answer.text)
        assert answer.status_code < 500
    else:
        assert answer.status_code == 403, answer.text
        problem = answer.json()
        assert problem["title"] == "Not allowed"
        assert NEEDS[method, path].value in problem["detail"]


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if NEEDS[op] != P.READ])
def test_a_read_token_is_refused_every_write_even_an_owners(
    site: StaffSite, tokens: dict[tuple[str, str], str], method: str, path: str
) -> None:
    answer = _call(site.client(), method, path, Authorization=f"Bearer {tokens['owner', 'read']}")
    assert answer.status_code == 403
    reading = site.client().get(
        "/api/v1/editions", headers={"Authorization": f"Bearer {tokens['owner', 'read']}"}
    )
    assert reading.status_code == 200


def test_an_expired_or_revoked_token_stops_working(site: StaffSite) -> None:
    expiring = site.token("editor", expires_days=1)
    revoked = site.token("editor")
    owner = {"Authorization": f"Bearer {site.token('owner')}"}
    client = site.client()
    for plain in (expiring, revoked):
        answer = client.get("/api/v1/editions", headers={"Authorization": f"Bearer {plain}"})
        assert answer.status_code == 200
    prefix = expiring.split("_")[1]
    with site.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.prefix == prefix)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    listed = client.get("/api/v1/staff/tokens", headers=owner).json()
    [row] = [t for t in listed if t["prefix"] == f"dsp_{revoked.split('_')[1]}_…"]
    assert "last_used_at" in row and row["last_used_at"] is not None
    assert client.delete(f"/api/v1/staff/tokens/{row['id']}", headers=owner).status_code == 200
    for plain in (expiring, revoked):
        answer = client.get("/api/v1/editions", headers={"Authorization": f"Bearer {plain}"})
        assert answer.status_code == 401
        assert "unknown, revoked or expired" in answer.json()["detail"]
    # A token's secret part is checked, not only its prefix.
    forged = revoked.rsplit("_", 1)[0] + "_" + "A" * 43
    assert (
        client.get("/api/v1/editions", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )


def test_the_back_office_session_reads_and_writes_with_its_csrf_token(site: StaffSite) -> None:
    browser = site.browser("author")
    assert browser.get("/api/v1/editions").status_code == 200
    with site.session() as session:
        item_id = factories.item(session, title="Un billet").id
        session.commit()
    body = {"subject": "Brouillon depuis le back-office", "items": [item_id]}
    refused = browser.post("/api/v1/editions", json=body)
    assert refused.status_code == 401 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = browser.post("/api/v1/editions", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 401
    token = csrf_of(browser.get("/admin/account").text)
    made = browser.post("/api/v1/editions", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    # The author's role still applies to the session: no scheduling.
    schedule = browser.post(
        f"/api/v1/editions/{made.json()['id']}/schedule",
        json={"send_at": "2030-01-01T09:00:00+01:00"},
        headers={"X-CSRF-Token": token},
    )
    assert schedule.status_code == 403


def test_the_reference_page_reads_as_a_page(site: StaffSite) -> None:
    page = site.client().get("/api/v1/docs")
    assert page.status_code == 200 and "<h1>" in page.text
    assert "**" not in page.text and "<strong>" in page.text  # its Markdown is rendered
