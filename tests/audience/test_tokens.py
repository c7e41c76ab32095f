"""Signed links: any change to a token is refused, and purposes never mix."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dispatch.audience import tokens
from dispatch.config import AppSettings, build_settings

SETTINGS = build_settings(app=AppSettings(base_url="https://lettre.example.org/"))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def test_links_round_trip_and_are_absolute() -> None:
    assert tokens.unsubscribe_url(SETTINGS, 7).startswith("https://lettre.example.org/unsubscribe/")
    token = tokens.preferences_url(SETTINGS, 7).rsplit("/", 1)[1]
    assert tokens.read_token(SETTINGS, "preferences", token) == 7
    claim = tokens.read_confirm_token(SETTINGS, tokens.make_confirm_token(SETTINGS, 7, 3))
    assert claim == tokens.ConfirmClaim(subscriber_id=7, nonce=3)


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    unsubscribe = tokens.make_token(SETTINGS, "unsubscribe", 7)
    try:
        tokens.read_token(SETTINGS, "preferences", unsubscribe)
    except tokens.TokenError:
        pass
    else:
        raise AssertionError("an unsubscribe token opened the preference centre")


@hsettings(max_examples=300, deadline=None)
@given(
    subscriber_id=st.integers(min_value=1, max_value=2**40),
    purpose=st.sampled_from(["preferences", "unsubscribe"]),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(ALPHABET),
)
def test_changing_any_character_of_a_token_is_refused(
    subscriber_id: int, purpose: tokens.Purpose, position: int, replacement: str
) -> None:
    token = tokens.make_token(SETTINGS, purpose, subscriber_id)
    index = position % len(token)
    tampered = token[:index] + replacement + token[index + 1 :]
    if tampered == token:
        return
    try:
        value = tokens.read_token(SETTINGS, purpose, tampered)
    except tokens.TokenError:
        return
    # Base64 padding bits can absorb a change without altering the bytes: same meaning only.
    assert value == subscriber_id


@hsettings(max_examples=200, deadline=None)
@given(subscriber_id=st.integers(min_value=1, max_value=2**31), text=st.text(max_size=80))
def test_arbitrary_text_never_passes_as_a_token(subscriber_id: int, text: str) -> None:
    for purpose in ("preferences", "unsubscribe"):
        try:
            tokens.read_token(SETTINGS, purpose, text)
        except tokens.TokenError:
            continue
        raise AssertionError(f"{text!r} was accepted")
    try:
        tokens.read_confirm_token(SETTINGS, text)
    except tokens.TokenError:
        return
    raise AssertionError(f"{text!r} was accepted as a confirm token")


@hsettings(max_examples=200, deadline=None)
@given(
    subscriber_id=st.integers(min_value=1, max_value=2**31),
    nonce=st.integers(min_value=0, max_value=1000),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(ALPHABET),
)
def test_a_tampered_confirm_token_never_confirms_someone_else(
    subscriber_id: int, nonce: int, position: int, replacement: str
) -> None:
    token = tokens.make_confirm_token(SETTINGS, subscriber_id, nonce)
    index = position % len(token)
    tampered = token[:index] + replacement + token[index + 1 :]
    try:
        claim = tokens.read_confirm_token(SETTINGS, tampered)
    except tokens.TokenError:
        return
    assert claim == tokens.ConfirmClaim(subscriber_id, nonce)


def test_a_token_signed_with_another_key_is_refused() -> None:
    from pydantic import SecretStr

    from dispatch.config import SecuritySettings

    other = build_settings(security=SecuritySettings(secret_key=SecretStr("o" * 40)))
    token = tokens.make_token(other, "unsubscribe", 7)
    try:
        tokens.read_token(SETTINGS, "unsubscribe", token)
    except tokens.TokenError:
        return
    raise AssertionError("a foreign key's token was accepted")
