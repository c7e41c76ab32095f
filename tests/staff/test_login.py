"""Logging in: throttled per account and per address, a second factor with a known secret."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import AuditEvent
from dispatch.config import Settings
from dispatch.staff import login, totp
from tests import factories

PASSWORD = "correct horse battery staple"


def _fail(db_session: Session, settings: Settings, email: str, ip: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(login.LoginError):
            login.check_password(db_session, settings, email=email, password="faux", ip=ip)


def test_the_right_password_logs_in_and_wrong_ones_say_no_more(
    db_session: Session, settings: Settings
) -> None:
    user = factories.staff(db_session, settings)
    assert (
        login.check_password(
            db_session, settings, email=user.email.upper(), password=PASSWORD, ip="192.0.2.1"
        )
        is user
    )
    for email, password in ((user.email, "faux"), ("personne@example.org", PASSWORD)):
        with pytest.raises(login.LoginError, match="wrong address or password"):
            login.check_password(db_session, settings, email=email, password=password, ip=None)
    failed = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.login_failed")
    ).all()
    assert [e.summary["why"] for e in failed] == ["wrong password", "unknown address"]


def test_ten_failures_on_an_account_stop_it_for_the_window_from_anywhere(
    db_session: Session, settings: Settings
) -> None:
    user = factories.staff(db_session, settings)
    for n in range(settings.staff.login_failures):
        _fail(db_session, settings, user.email, f"198.51.100.{n}", 1)
    with pytest.raises(login.TooManyAttemptsError) as refused:
        # Even the right password, from a new address: the password is not even checked.
        login.check_password(db_session, settings, email=user.email, password=PASSWORD, ip="x")
    window = settings.staff.login_window_minutes * 60
    assert 0 < refused.value.retry_after <= window
    # A reset link proves the person: the count is forgotten and they log in again.
    login.clear_failures(db_session, settings, user.email)
    assert login.check_password(db_session, settings, email=user.email, password=PASSWORD, ip="x")


def test_ten_failures_from_one_address_stop_that_address_only(
    db_session: Session, settings: Settings
) -> None:
    victim = factories.staff(db_session, settings)
    for n in range(settings.staff.login_failures):
        _fail(db_session, settings, f"essai{n}@example.org", "203.0.113.9", 1)
    with pytest.raises(login.TooManyAttemptsError):
        login.check_password(
            db_session, settings, email=victim.email, password=PASSWORD, ip="203.0.113.9"
        )
    assert login.check_password(
        db_session, settings, email=victim.email, password=PASSWORD, ip="203.0.113.10"
    )


def test_the_second_factor_with_a_known_secret(db_session: Session, settings: Settings) -> None:
    user = factories.staff(db_session, settings)
    secret = totp.start(db_session, settings, user)
    app = pyotp.TOTP(secret)
    assert totp.pending_secret(settings, user) == secret
    assert "otpauth://totp/" in totp.provisioning_uri(settings, user, secret)
    assert totp.qr_svg(totp.provisioning_uri(settings, user, secret)).startswith("<?xml")
    with pytest.raises(ValueError, match="not the one"):
        totp.confirm(db_session, settings, user, "000000" if app.now() != "000000" else "111111")
    codes = totp.confirm(db_session, settings, user, app.now())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert secret.encode() not in user.totp_secret  # stored encrypted

    previous = app.at(time.time() - 30)
    user.totp_last_step = None
    assert totp.check(db_session, settings, user, previous), "clock drift of one step"
    assert not totp.check(db_session, settings, user, previous), "the same code twice"
    assert totp.check(db_session, settings, user, app.now())
    assert not totp.check(db_session, settings, user, "123 456")

    assert totp.check(db_session, settings, user, codes[0].lower())  # a recovery code
    assert not totp.check(db_session, settings, user, codes[0]), "used up"
    assert len(user.recovery_codes) == 9
    with pytest.raises(login.LoginError):
        login.check_code(db_session, settings, user, "999999", ip=None)


def test_past_the_window_the_account_may_try_again(db_session: Session, settings: Settings) -> None:
    from dispatch import ratelimit

    user = factories.staff(db_session, settings)
    _fail(db_session, settings, user.email, "192.0.2.50", settings.staff.login_failures)
    with pytest.raises(login.TooManyAttemptsError):
        login.check_password(db_session, settings, email=user.email, password=PASSWORD, ip=None)
    # The windows are rows: move them one window back, as time passing would.
    for row in db_session.scalars(select(ratelimit.RateCounter)):
        row.window_start -= timedelta(minutes=settings.staff.login_window_minutes)
    db_session.flush()
    assert login.check_password(db_session, settings, email=user.email, password=PASSWORD, ip=None)
