"""DKIM with Ed25519 beside RSA (RFC 8463 dual signing), verified by dkimpy."""

from __future__ import annotations

import email
from email import policy

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from pydantic import SecretStr

from dispatch.config import AppSettings, MailSettings, build_settings
from dispatch.delivery.dkim import DkimKey, DkimKeyError, public_record
from dispatch.delivery.mime import MessageFactory, dkim_keys
from dispatch.editions import compose, samples

DOMAIN = "la27eregion.example"


def _pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def keys() -> tuple[DkimKey, DkimKey]:
    rsa_key = DkimKey("rsa2026", DOMAIN, _pem(rsa.generate_private_key(65537, 2048)))
    ed_key = DkimKey("ed2026", DOMAIN, _pem(ed25519.Ed25519PrivateKey.generate()))
    return rsa_key, ed_key


@pytest.fixture(scope="module")
def message() -> compose.RenderedMessage:
    branding = samples.sample_branding()
    compiled = compose.compile_edition(samples.sample_edition("newsletter", "fr"), branding)
    return compose.personalise(compiled, samples.sample_recipient("fr"))


def _dns(*published: DkimKey):
    records = {f"{k.selector}._domainkey.{k.domain}.".encode(): public_record(k) for k in published}

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return records.get(name, "").encode()

    return lookup


def _verifies(data: bytes, idx: int, dns) -> bool:
    """dkimpy's verdict on the signature at `idx` (it raises on some failures)."""
    try:
        return bool(dkim.DKIM(data).verify(idx=idx, dnsfunc=dns))
    except dkim.ValidationError:
        return False


def _signatures(data: bytes) -> list[str]:
    parsed = email.message_from_bytes(data, policy=policy.default)
    return [str(value) for value in parsed.get_all("DKIM-Signature", [])]


def test_both_signatures_verify_and_each_names_its_algorithm(message, keys) -> None:
    rsa_key, ed_key = keys
    data = (
        MessageFactory(samples.sample_branding(), list_id="l.example", dkim=keys)
        .build(message)
        .data
    )
    signatures = _signatures(data)
    assert len(signatures) == 2
    assert "a=rsa-sha256" in signatures[0] and "s=rsa2026" in signatures[0]
    assert "a=ed25519-sha256" in signatures[1] and "s=ed2026" in signatures[1]
    dns = _dns(rsa_key, ed_key)
    assert _verifies(data, 0, dns) and _verifies(data, 1, dns)


def test_a_receiver_without_the_rsa_record_still_verifies_the_ed25519_one(message, keys):
    rsa_key, ed_key = keys
    data = (
        MessageFactory(samples.sample_branding(), list_id="l.example", dkim=keys)
        .build(message)
        .data
    )
    only_ed = _dns(ed_key)
    assert not _verifies(data, 0, only_ed)
    assert _verifies(data, 1, only_ed)
    # A changed body breaks both.
    tampered = data.replace(b"Bilan de l'ann", b"Bilan de l'Ann", 1)
    assert tampered != data
    assert not _verifies(tampered, 1, only_ed)
    assert not _verifies(tampered, 0, _dns(rsa_key, ed_key))


def test_an_ed25519_record_is_the_raw_public_key(keys) -> None:
    _, ed_key = keys
    record = public_record(ed_key)
    assert record.startswith("v=DKIM1; k=ed25519; p=")
    assert len(record.split("p=")[1]) == 44  # 32 bytes in base64


def test_settings_sign_with_rsa_then_ed25519_when_both_are_set(keys, tmp_path) -> None:
    rsa_key, ed_key = keys
    settings = build_settings(
        app=AppSettings(data_dir=tmp_path),
        mail=MailSettings(
            dkim_domain=DOMAIN,
            dkim_selector="rsa2026",
            dkim_private_key=SecretStr(rsa_key.private_key.decode()),
            dkim_ed25519_selector="ed2026",
            dkim_ed25519_private_key=SecretStr(ed_key.private_key.decode()),
        ),
    )
    assert [k.selector for k in dkim_keys(settings)] == ["rsa2026", "ed2026"]
    only_ed = build_settings(
        app=AppSettings(data_dir=tmp_path),
        mail=MailSettings(
            dkim_domain=DOMAIN,
            dkim_ed25519_selector="ed2026",
            dkim_ed25519_private_key=SecretStr(ed_key.private_key.decode()),
        ),
    )
    assert [k.selector for k in dkim_keys(only_ed)] == ["ed2026"]


def test_a_key_that_is_neither_rsa_nor_ed25519_is_refused() -> None:
    with pytest.raises(DkimKeyError):
        MessageFactory(
            samples.sample_branding(),
            list_id="l.example",
            dkim=DkimKey(
                "s", DOMAIN, b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
            ),
        )
