"""Address normalisation: the fast path for stored addresses agrees with the validator."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.audience.addresses import (
    InvalidInputError,
    normalise_email,
    normalise_email_loosely,
)


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[a-z0-9.-]+", fullmatch=True))
def test_the_fast_path_hashes_an_address_as_the_validator_would(address: str) -> None:
    # Suppression hashes must not depend on which path normalised the address.
    try:
        expected = normalise_email(address)
    except InvalidInputError:
        expected = address.strip().lower()
    assert normalise_email_loosely(address) == expected
