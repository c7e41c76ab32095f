from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.delivery import verp

SECRET = "test-verp-secret"


def test_encode_gives_a_return_path_on_the_bounce_domain():
    address = verp.encode("bounces", "Lettre.La27eRegion.fr", 12345, SECRET)
    local, domain = address.split("@")
    assert domain == "lettre.la27eregion.fr"
    assert local.startswith("bounces+d12345-")
    assert verp.decode(address, SECRET) == 12345


@given(st.integers(min_value=0, max_value=10**15))
def test_round_trip_for_any_delivery_id(delivery_id):
    address = verp.encode("bounces", "example.org", delivery_id, SECRET)
    assert verp.decode(address, SECRET) == delivery_id


def test_decode_survives_mtas_that_change_case_or_wrap_the_address():
    address = verp.encode("bounces", "example.org", 42, SECRET)
    assert verp.decode(address.upper(), SECRET) == 42
    assert verp.decode(f"Mail Delivery <{address}>", SECRET) == 42
    assert verp.decode(f"rfc822; {address}", SECRET) == 42


def test_decode_refuses_a_changed_id_or_mac_or_secret():
    address = verp.encode("bounces", "example.org", 42, SECRET)
    assert verp.decode(address.replace("+d42-", "+d43-"), SECRET) is None
    mac_at = address.index("-") + 1
    flipped = "0" if address[mac_at] != "0" else "1"
    assert verp.decode(address[:mac_at] + flipped + address[mac_at + 1 :], SECRET) is None
    assert verp.decode(address, "another-secret") is None


def test_decode_ignores_ordinary_addresses():
    assert verp.decode("bounces@example.org", SECRET) is None
    assert verp.decode("jean+news@example.org", SECRET) is None
    assert verp.decode("", SECRET) is None


def test_token_for_the_delivery_header_round_trips_and_resists_tampering():
    token = verp.make_token(777, SECRET)
    assert verp.read_token(f"  {token.upper()} ", SECRET) == 777
    assert verp.read_token(token.replace("d777", "d778"), SECRET) is None


def test_encode_refuses_nonsense():
    with pytest.raises(ValueError, match="bounce address"):
        verp.encode("bounces@x", "example.org", 1, SECRET)
    with pytest.raises(ValueError, match="positive"):
        verp.encode("bounces", "example.org", -1, SECRET)
