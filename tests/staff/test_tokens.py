"""API tokens: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.staff import accounts, tokens
from tests import factories


def test_a_token_is_shown_once_and_works_until_revoked(
    db_session: Session, settings: Settings
) -> None:
    user = factories.staff(db_session, settings)
    row, plain = tokens.create(db_session, user, name="site WordPress", scope="write")
    assert plain.startswith(f"dsp_{row.prefix}_") and plain not in repr(tokens.as_dict(row))
    assert row.token_hash != plain and plain[-20:] not in row.token_hash
    assert tokens.authenticate(db_session, plain) is row
    assert row.last_used_at is not None
    assert tokens.authenticate(db_session, plain[:-1] + ("A" if plain[-1] != "A" else "B")) is None
    assert tokens.authenticate(db_session, "dsp_nope_nope") is None
    tokens.revoke(db_session, row.id)
    assert tokens.authenticate(db_session, plain) is None


def test_expired_tokens_and_disabled_owners_are_refused(
    db_session: Session, settings: Settings
) -> None:
    factories.staff(db_session, settings, role="owner")
    user = factories.staff(db_session, settings)
    row, plain = tokens.create(db_session, user, name="script", expires_days=7)
    assert tokens.authenticate(db_session, plain, now=utcnow() + timedelta(days=6)) is row
    assert tokens.authenticate(db_session, plain, now=utcnow() + timedelta(days=8)) is None
    _row, other = tokens.create(db_session, user, name="another")
    accounts.set_active(db_session, user, False)
    assert tokens.authenticate(db_session, other) is None


def test_bad_requests_for_a_token_say_what_to_fix(db_session: Session, settings: Settings) -> None:
    user = factories.staff(db_session, settings)
    with pytest.raises(accounts.StaffError, match="read or write"):
        tokens.create(db_session, user, name="x", scope="admin")
    with pytest.raises(accounts.StaffError, match="name"):
        tokens.create(db_session, user, name="  ")
    with pytest.raises(accounts.StaffError, match="one day"):
        tokens.create(db_session, user, name="x", expires_days=0)
