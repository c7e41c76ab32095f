"""Staff accounts: adding people, their roles, disabling them, and passwords set through a
one-time link (an invitation or a reset).

A link carries its `StaffLink` row's id, signed; the row makes it single-use and dated, so no
secret is stored and a task can send the email again from the id alone. Changing a password,
a role or disabling an account ends every session of that person. The last active owner can
be neither disabled nor demoted: somebody must always be able to manage the team.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.audience.addresses import InvalidInputError, normalise_email
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.staff import passwords
from dispatch.staff.models import LINK_PURPOSES, ROLES, StaffLink, StaffSession, StaffUser

_LINK_SALT = "dispatch.staff.link"
LANGUAGES = ("fr", "en")


class StaffError(ValueError):
    """A staff request that cannot be done; the message says why."""


def _address(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidInputError as error:
        raise StaffError(f"{email!r} is not an email address: {error}") from error


def find(session: Session, email: str) -> StaffUser | None:
    try:
        address = normalise_email(email)
    except InvalidInputError:
        return None
    return session.scalar(select(StaffUser).where(StaffUser.email == address))


def get(session: Session, email: str) -> StaffUser:
    user = find(session, email)
    if user is None:
        raise StaffError(f"No staff account for {email}.")
    return user


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def as_dict(user: StaffUser) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "language": user.language,
        "role": user.role,
        "active": user.active,
        "two_factor": user.totp_enabled_at is not None,
        "password_set": user.password_hash is not None,
        "created_at": when(user.created_at),
        "last_login_at": when(user.last_login_at),
    }


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"Unknown role {role!r}: one of {', '.join(ROLES)}.")
    return role


def add_staff(
    session: Session, *, email: str, role: str, name: str = "", language: str = "fr"
) -> StaffUser:
    """A new account, with no password yet: it is set from an invitation link."""
    address = _address(email)
    if language not in LANGUAGES:
        raise StaffError(f"Unknown language {language!r}: fr or en.")
    if find(session, address) is not None:
        raise StaffError(f"{address} already has a staff account.")
    user = StaffUser(
        email=address, name=name.strip()[:200], language=language, role=_check_role(role)
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "staff.added",
        object_type="staff",
        object_id=user.id,
        summary={"email": address, "role": role},
    )
    return user


def _active_owners(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).where(StaffUser.role == "owner", StaffUser.active.is_(True))
        )
        or 0
    )


def _keep_an_owner(session: Session, user: StaffUser) -> None:
    if user.role == "owner" and user.active and _active_owners(session) <= 1:
        raise StaffError(f"{user.email} is the last active owner: make someone else owner first.")


def revoke_sessions(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """End every open session of one person (they log in again)."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_role(session: Session, user: StaffUser, role: str) -> StaffUser:
    role = _check_role(role)
    if role == user.role:
        return user
    if role != "owner":
        _keep_an_owner(session, user)
    before = user.role
    user.role = role
    revoke_sessions(session, user.id)
    session.flush()
    audit.record(
        session,
        "staff.role_changed",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email, "before": before, "after": role},
    )
    return user


def set_active(session: Session, user: StaffUser, active: bool) -> StaffUser:
    if user.active == active:
        return user
    if not active:
        _keep_an_owner(session, user)
        revoke_sessions(session, user.id)
    user.active = active
    session.flush()
    audit.record(
        session,
        "staff.enabled" if active else "staff.disabled",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email},
    )
    return user


def set_password(session: Session, settings: Settings, user: StaffUser, password: str) -> StaffUser:
    """Set a new password: checked, hashed, and every session of the person ended."""
    try:
        passwords.check_new(
            password, email=user.email, min_length=settings.staff.password_min_length
        )
    except passwords.PasswordError as error:
        raise StaffError(f"This password cannot be used: {error}.") from error
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = utcnow()
    revoke_sessions(session, user.id)
    session.flush()
    audit.record(
        session,
        "staff.password_changed",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email},
    )
    return user


# --- one-time links -------------------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts every one: the newest goes last.
    return URLSafeSerializer(list(reversed(settings.security.signing_keys())), salt=_LINK_SALT)


def link_url(settings: Settings, link: StaffLink) -> str:
    token = _serializer(settings).dumps(link.id)
    return f"{settings.app.base_url.rstrip('/')}/admin/password/{token}"


def create_link(session: Session, settings: Settings, user: StaffUser, purpose: str) -> StaffLink:
    """A new invitation or reset link for `user`; earlier unused ones stop working."""
    if purpose not in LINK_PURPOSES:
        raise StaffError(f"Unknown link purpose {purpose!r}.")
    now = utcnow()
    hours = settings.staff.invite_hours if purpose == "invite" else settings.staff.reset_hours
    earlier = session.scalars(
        select(StaffLink).where(StaffLink.user_id == user.id, StaffLink.used_at.is_(None))
    )
    for old in earlier:
        old.used_at = now
        old.details = {"superseded": True}
    link = StaffLink(
        user_id=user.id, purpose=purpose, created_at=now, expires_at=now + timedelta(hours=hours)
    )
    session.add(link)
    session.flush()
    return link


def read_link(
    session: Session, settings: Settings, token: str, *, now: datetime | None = None
) -> StaffLink:
    """The valid link `token` names; StaffError (one message for every reason) otherwise."""
    refused = StaffError("This link is not valid any more: ask for a new one.")
    try:
        link_id = _serializer(settings).loads(token)
    except BadSignature as error:
        raise refused from error
    link = session.get(StaffLink, link_id) if isinstance(link_id, int) else None
    now = now or utcnow()
    if link is None or link.used_at is not None or link.expires_at <= now or not link.user.active:
        raise refused
    return link


def use_link(session: Session, settings: Settings, token: str, password: str) -> StaffUser:
    """Set the password a valid link allows, once."""
    link = read_link(session, settings, token)
    user = set_password(session, settings, link.user, password)
    link.used_at = utcnow()
    session.flush()
    return user


# --- what an owner does for someone else, from the staff pages -----------------------------


def end_session(session: Session, user: StaffUser, session_id: int) -> bool:
    """Close one open session of `user` (a lost phone, a shared computer); False if none."""
    row = session.get(StaffSession, session_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.flush()
    audit.record(
        session,
        "staff.session_revoked",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email, "session": session_id},
    )
    return True


def reset_link(session: Session, settings: Settings, user: StaffUser) -> StaffLink:
    """A new one-time link for `user` to set a password (the invitation again when they never
    set one); the caller rings `staff.send_link` to email it."""
    if not user.active:
        raise StaffError(f"{user.email} is disabled: enable the account first.")
    purpose = "reset" if user.password_hash else "invite"
    link = create_link(session, settings, user, purpose)
    audit.record(
        session,
        "staff.link_sent",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email, "purpose": purpose},
    )
    return link
