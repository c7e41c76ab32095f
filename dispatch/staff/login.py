"""Logging in: the password, then the second factor if the person turned it on.

Failures are counted per account and per client address in fixed windows of
`staff.login_window_minutes`: past `staff.login_failures` the answer is "too many attempts,
try again in N seconds" without even checking the password. A window ends by itself, so the
real owner is never locked out for longer than one window, and a password reset by email
clears the account's count. Every answer for a wrong address, a wrong password or a disabled
account is the same, and takes the same time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from dispatch import audit, ratelimit
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.staff import accounts, passwords, totp
from dispatch.staff.models import StaffUser


class LoginError(Exception):
    """Wrong address, password or code; deliberately says no more than that."""


@dataclass
class TooManyAttemptsError(Exception):
    retry_after: int  # seconds

    def __str__(self) -> str:
        return f"too many failed attempts; try again in {self.retry_after} seconds"


def _keys(settings: Settings, email: str, ip: str | None) -> list[str]:
    account = hashlib.sha256(f"{settings.secret_key}:{email.strip().lower()}".encode())
    keys = [f"login:account:{account.hexdigest()[:24]}"]
    if ip:
        address = hashlib.sha256(f"{settings.secret_key}:{ip}".encode()).hexdigest()[:24]
        keys.append(f"login:ip:{address}")
    return keys


def _window(settings: Settings) -> int:
    return settings.staff.login_window_minutes * 60


def _retry_after(settings: Settings, now: datetime) -> int:
    window = _window(settings)
    return max(1, window - int(now.timestamp()) % window)


def _check_throttle(session: Session, settings: Settings, email: str, ip: str | None) -> None:
    window, limit = _window(settings), settings.staff.login_failures
    if any(
        ratelimit.count(session, key, window_seconds=window) >= limit
        for key in _keys(settings, email, ip)
    ):
        raise TooManyAttemptsError(_retry_after(settings, utcnow()))


def _failed(session: Session, settings: Settings, email: str, ip: str | None, why: str) -> None:
    window = _window(settings)
    for key in _keys(settings, email, ip):
        ratelimit.hit(session, key, window_seconds=window, limit=settings.staff.login_failures)
    user = accounts.find(session, email)
    audit.record(
        session,
        "staff.login_failed",
        object_type="staff",
        object_id=user.id if user else None,
        summary={"email": email.strip().lower()[:320], "why": why},
        actor=audit.Actor(
            "staff" if user else "operator",
            email.strip()[:320] or "?",
            "web",
            staff_id=user.id if user else None,
            role=user.role if user else None,
            ip=ip,
        ),
    )


def clear_failures(session: Session, settings: Settings, email: str) -> None:
    """A reset link proved the person: their account's failed attempts are forgotten."""
    account_key = _keys(settings, email, None)[0]
    session.execute(delete(ratelimit.RateCounter).where(ratelimit.RateCounter.key == account_key))


def check_password(
    session: Session, settings: Settings, *, email: str, password: str, ip: str | None
) -> StaffUser:
    """The account whose password this is; LoginError or TooManyAttemptsError otherwise.

    Failures are recorded in the caller's unit of work: commit it even when this raises.
    """
    _check_throttle(session, settings, email, ip)
    user = accounts.find(session, email)
    good = passwords.verify(user.password_hash if user else None, password)
    if user is None or not good or not user.active:
        why = "unknown address" if user is None else ("disabled" if good else "wrong password")
        _failed(session, settings, email, ip, why)
        raise LoginError("wrong address or password")
    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    return user


def check_code(
    session: Session, settings: Settings, user: StaffUser, code: str, *, ip: str | None
) -> None:
    """The second step; LoginError or TooManyAttemptsError when it fails."""
    _check_throttle(session, settings, user.email, ip)
    if not totp.check(session, settings, user, code):
        _failed(session, settings, user.email, ip, "wrong code")
        raise LoginError("wrong code")


def logged_in(session: Session, user: StaffUser, *, ip: str | None) -> None:
    user.last_login_at = utcnow()
    session.flush()
    audit.record(
        session,
        "staff.login",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email, "two_factor": user.totp_enabled_at is not None},
        actor=audit.Actor("staff", user.email, "web", staff_id=user.id, role=user.role, ip=ip),
    )
