"""Staff pages: the team (owners only): invite, change a role, disable, send a new link,
close someone's sessions; the last owner is kept, in plain words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.staff import mail
from dispatch.staff.models import StaffLink, StaffSession, StaffUser
from tests.web.staffsite import StaffSite, email_of, plain, post_form, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    yield from staff_site(request, tmp_path_factory.mktemp("admin-staff"))


@pytest.fixture(scope="module")
def owner(site: StaffSite) -> TestClient:
    return site.browser("owner")


def _user(site: StaffSite, email: str) -> StaffUser:
    with site.session() as session:
        user = session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None
        session.expunge(user)
        return user


def test_only_owners_see_the_team(site: StaffSite, owner: TestClient) -> None:
    page = owner.get("/admin/staff")
    assert page.status_code == 200 and "editor@example.org" in page.text
    editor = site.browser("editor")
    assert editor.get("/admin/staff").status_code == 403
    assert post_form(editor, "/admin/items", "/admin/staff", {"email": "x@example.org",
                     "role": "owner", "language": "fr"}).status_code == 403  # fmt: skip


def test_inviting_sends_a_one_time_link(site: StaffSite, owner: TestClient) -> None:
    site.doorbell.clear()
    fields = {"email": "Nouvelle@Example.org", "name": "Nouvelle", "role": "author",
              "language": "en"}  # fmt: skip
    answer = post_form(owner, "/admin/staff", "/admin/staff", fields)
    assert answer.status_code == 303
    page = plain(owner.get(answer.headers["location"]).text)
    assert "L’invitation est envoyée" in page and "invité·e (pas encore de mot de passe)" in page
    user = _user(site, "nouvelle@example.org")
    assert user.role == "author" and user.language == "en" and user.password_hash is None
    with site.session() as session:
        link = session.scalar(select(StaffLink).where(StaffLink.user_id == user.id))
        assert link is not None and link.purpose == "invite"
    assert site.doorbell == [(mail.TASK, (link.id,))]
    twice = post_form(owner, "/admin/staff", "/admin/staff", fields)
    assert twice.status_code == 400 and "a déjà un compte" in plain(twice.text)

    site.doorbell.clear()
    again = post_form(owner, f"/admin/staff/{user.id}", f"/admin/staff/{user.id}/link")
    assert again.status_code == 303 and len(site.doorbell) == 1
    actions = [a for a, who in site.audit_actions() if who == email_of("owner")]
    assert {"staff.added", "staff.link_sent"} <= set(actions)


def test_the_last_owner_cannot_be_demoted_or_disabled(site: StaffSite, owner: TestClient) -> None:
    me = _user(site, email_of("owner"))
    page = f"/admin/staff/{me.id}"
    demoted = post_form(owner, page, f"{page}/role", {"role": "editor"})
    assert demoted.status_code == 400
    assert "est la dernière personne propriétaire active" in plain(demoted.text)
    disabled = post_form(owner, page, f"{page}/active", {"active": "0"})
    assert disabled.status_code == 400
    assert _user(site, email_of("owner")).role == "owner"


def test_roles_sessions_and_disabling(site: StaffSite, owner: TestClient) -> None:
    viewer = site.browser("viewer")
    person = _user(site, email_of("viewer"))
    page = f"/admin/staff/{person.id}"
    with site.session() as session:
        row = session.scalar(
            select(StaffSession)
            .where(StaffSession.user_id == person.id, StaffSession.revoked_at.is_(None))
            .order_by(StaffSession.id.desc())
        )
        assert row is not None
    listed = owner.get(page)
    assert f"/sessions/{row.id}/end" in listed.text
    ended = post_form(owner, page, f"{page}/sessions/{row.id}/end")
    assert ended.status_code == 303
    assert viewer.get("/admin/").status_code == 303  # logged out there

    changed = post_form(owner, page, f"{page}/role", {"role": "editor"})
    assert changed.status_code == 303 and _user(site, email_of("viewer")).role == "editor"
    off = post_form(owner, page, f"{page}/active", {"active": "0"})
    assert off.status_code == 303 and not _user(site, email_of("viewer")).active
    assert "désactivé" in plain(owner.get("/admin/staff").text)
    on = post_form(owner, page, f"{page}/active", {"active": "1"})
    assert on.status_code == 303 and _user(site, email_of("viewer")).active
    actions = [a for a, who in site.audit_actions() if who == email_of("owner")]
    assert {
        "staff.session_revoked",
        "staff.role_changed",
        "staff.disabled",
        "staff.enabled",
    } <= set(actions)
