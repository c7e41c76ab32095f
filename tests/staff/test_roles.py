"""Who may do what: every role against every permission, and a token's scope narrowing it."""

from __future__ import annotations

import pytest

from dispatch.audit import SYSTEM, Actor
from dispatch.staff.roles import ForbiddenError, Permission, may, require

EXPECTED = {
    "owner": set(Permission),
    "editor": set(Permission) - {Permission.STAFF},
    "author": {Permission.READ, Permission.DRAFT, Permission.SOCIAL_PREPARE},
    "viewer": {Permission.READ},
}


def _staff(role: str, scope: str | None = None) -> Actor:
    return Actor("staff", f"{role}@example.org", "api", staff_id=1, role=role, scope=scope)


@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize("permission", list(Permission))
def test_every_role_against_every_permission(role: str, permission: Permission) -> None:
    actor = _staff(role)
    assert may(actor, permission) is (permission in EXPECTED[role])
    if permission not in EXPECTED[role]:
        with pytest.raises(ForbiddenError, match=permission.value):
            require(actor, permission)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_a_read_token_only_reads_whatever_its_owners_role(role: str) -> None:
    actor = _staff(role, scope="read")
    assert {p for p in Permission if may(actor, p)} == {Permission.READ}
    written = _staff(role, scope="write")
    assert {p for p in Permission if may(written, p)} == EXPECTED[role]


def test_an_unknown_role_may_do_nothing_and_the_operator_everything() -> None:
    assert not any(may(_staff("intern"), p) for p in Permission)
    operator = Actor("operator", "operator:root", "cli")
    assert all(may(operator, p) for p in Permission) and all(may(SYSTEM, p) for p in Permission)
