"""Passwords: stored as argon2id at the library's recommended cost, and refused when weak."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters

from dispatch.staff import passwords


def test_production_hashes_are_argon2id_at_the_recommended_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    stored = passwords.hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    params = extract_parameters(stored)
    recommended = PasswordHasher()
    assert (params.time_cost, params.memory_cost) == (
        recommended.time_cost,
        recommended.memory_cost,
    )
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapl")
    assert "correct horse" not in stored


def test_a_weaker_stored_hash_asks_to_be_rehashed(monkeypatch: pytest.MonkeyPatch) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("a long passphrase")
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    assert passwords.needs_rehash(weak)


def test_no_stored_hash_never_matches() -> None:
    assert not passwords.verify(None, "not a password anyone has")
    assert not passwords.verify("garbage", "anything")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12 characters"),
        ("x" * 1001, "at most 1,000 characters"),
        ("claire@example.org", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(passwords.PasswordError, match=reason):
        passwords.check_new(password, email="claire@example.org", min_length=12)
