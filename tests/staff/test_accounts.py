"""Staff accounts: adding, roles, disabling, passwords from one-time links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import AuditEvent
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.staff import accounts, passwords, sessions
from tests import factories


def _open_session(db_session: Session, settings: Settings, user) -> str:  # type: ignore[no-untyped-def]
    _row, token = sessions.open_session(db_session, settings, user)
    return token


def test_an_invited_person_sets_a_password_once_from_their_link(
    db_session: Session, settings: Settings
) -> None:
    user = accounts.add_staff(db_session, email="Lea@Example.org", role="editor", name="Léa")
    assert user.email == "lea@example.org" and user.password_hash is None
    link = accounts.create_link(db_session, settings, user, "invite")
    token = accounts.link_url(settings, link).rsplit("/", 1)[1]
    assert accounts.read_link(db_session, settings, token).user is user

    accounts.use_link(db_session, settings, token, "un mot de passe assez long")
    assert passwords.verify(user.password_hash, "un mot de passe assez long")
    with pytest.raises(accounts.StaffError, match="not valid any more"):
        accounts.use_link(db_session, settings, token, "encore un autre mot de passe")


def test_a_link_expires_and_a_newer_one_replaces_it(
    db_session: Session, settings: Settings
) -> None:
    user = factories.staff(db_session, settings, password=None)
    first = accounts.create_link(db_session, settings, user, "reset")
    second = accounts.create_link(db_session, settings, user, "reset")
    first_token = accounts.link_url(settings, first).rsplit("/", 1)[1]
    second_token = accounts.link_url(settings, second).rsplit("/", 1)[1]
    with pytest.raises(accounts.StaffError):
        accounts.read_link(db_session, settings, first_token)  # superseded
    later = utcnow() + timedelta(hours=settings.staff.reset_hours, minutes=1)
    with pytest.raises(accounts.StaffError):
        accounts.read_link(db_session, settings, second_token, now=later)
    with pytest.raises(accounts.StaffError):
        accounts.read_link(db_session, settings, second_token[:-2] + "xx")  # forged


@pytest.mark.parametrize("change", ["password", "role", "disable"])
def test_every_session_ends_on_a_password_role_or_status_change(
    db_session: Session, settings: Settings, change: str
) -> None:
    factories.staff(db_session, settings, role="owner")  # someone else stays owner
    user = factories.staff(db_session, settings, role="editor")
    tokens = [_open_session(db_session, settings, user) for _ in range(2)]
    assert all(sessions.find_session(db_session, settings, t) for t in tokens)
    if change == "password":
        accounts.set_password(db_session, settings, user, "tout nouveau mot de passe")
    elif change == "role":
        accounts.set_role(db_session, user, "viewer")
    else:
        accounts.set_active(db_session, user, False)
    assert not any(sessions.find_session(db_session, settings, t) for t in tokens)


def test_the_last_owner_can_be_neither_disabled_nor_demoted(
    db_session: Session, settings: Settings
) -> None:
    owner = factories.staff(db_session, settings, role="owner")
    with pytest.raises(accounts.StaffError, match="last active owner"):
        accounts.set_active(db_session, owner, False)
    with pytest.raises(accounts.StaffError, match="last active owner"):
        accounts.set_role(db_session, owner, "editor")
    factories.staff(db_session, settings, role="owner")
    accounts.set_role(db_session, owner, "editor")
    assert owner.role == "editor"


def test_weak_passwords_and_bad_input_are_refused_with_a_reason(
    db_session: Session, settings: Settings
) -> None:
    user = factories.staff(db_session, settings, password=None)
    with pytest.raises(accounts.StaffError, match="at least 12"):
        accounts.set_password(db_session, settings, user, "court")
    with pytest.raises(accounts.StaffError, match="too easy"):
        accounts.set_password(db_session, settings, user, "a" * 20)
    with pytest.raises(accounts.StaffError, match="not an email"):
        accounts.add_staff(db_session, email="pas une adresse", role="viewer")
    with pytest.raises(accounts.StaffError, match="Unknown role"):
        accounts.add_staff(db_session, email="x@example.org", role="intern")
    with pytest.raises(accounts.StaffError, match="already has"):
        accounts.add_staff(db_session, email=user.email.upper(), role="viewer")


def test_sessions_end_when_idle_and_at_their_absolute_end(
    db_session: Session, settings: Settings
) -> None:
    user = factories.staff(db_session, settings)
    row, token = sessions.open_session(db_session, settings, user)
    idle = timedelta(minutes=settings.staff.session_idle_minutes)
    assert sessions.find_session(db_session, settings, token, now=row.last_seen_at + idle / 2)
    later = row.last_seen_at + idle * 2
    assert sessions.find_session(db_session, settings, token, now=later) is None

    # Kept busy (a request every 50 minutes), a session still ends at its absolute limit.
    busy, kept_busy = sessions.open_session(db_session, settings, user)
    moment, alive_until = busy.created_at, None
    while moment < busy.created_at + timedelta(hours=settings.staff.session_max_hours + 2):
        moment += timedelta(minutes=50)
        if sessions.find_session(db_session, settings, kept_busy, now=moment) is None:
            break
        alive_until = moment
    assert alive_until is not None and alive_until < busy.expires_at <= moment


def test_staff_changes_are_in_the_audit_trail(db_session: Session, settings: Settings) -> None:
    factories.staff(db_session, settings, role="owner")
    user = factories.staff(db_session, settings, role="author")
    accounts.set_role(db_session, user, "editor")
    accounts.set_active(db_session, user, False)
    actions = [
        e.action
        for e in db_session.scalars(
            select(AuditEvent).where(AuditEvent.object_id == str(user.id)).order_by(AuditEvent.id)
        )
    ]
    assert actions == [
        "staff.added",
        "staff.password_changed",
        "staff.role_changed",
        "staff.disabled",
    ]
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.role_changed")
    ).one()
    assert event.summary == {"email": user.email, "before": "author", "after": "editor"}
    with pytest.raises(ValueError, match="append-only"), db_session.begin_nested():
        event.summary = {"tampered": True}
    with pytest.raises(ValueError, match="cannot be deleted"), db_session.begin_nested():
        db_session.delete(event)
    assert db_session.get(AuditEvent, event.id) is not None
