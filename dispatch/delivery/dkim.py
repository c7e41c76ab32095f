"""DKIM signatures (RFC 6376, relaxed/relaxed) made with the `cryptography` package: RSA
(rsa-sha256) and Ed25519 (ed25519-sha256, RFC 8463), one or both on every message.

Dual signing is what RFC 8463 recommends while receivers learn Ed25519: each key adds its own
DKIM-Signature over the same headers and body hash, and a receiver that does not know one
algorithm ignores that signature and checks the other. The body hash is computed once over
canonical pieces (`dispatch.delivery.mime` canonicalises the static ones once per edition), so
each message costs one SHA-256 pass plus one signature per key; an Ed25519 signature costs a
small fraction of an RSA one.
"""

from __future__ import annotations

import hashlib
import re
import time
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WSP_RUN_TEXT = re.compile(r"[ \t]+")


class DkimKeyError(ValueError):
    """A DKIM key or name that cannot sign (wrong type, not PEM, a control character)."""


@dataclass(frozen=True, slots=True)
class DkimKey:
    """A DKIM signing key: ``<selector>._domainkey.<domain>`` publishes its public half."""

    selector: str
    domain: str
    private_key: bytes  # PEM (PKCS#1 or PKCS#8): RSA, or Ed25519 (PKCS#8)

    def __post_init__(self) -> None:
        for label, value in (("selector", self.selector), ("domain", self.domain)):
            if not value or _CONTROL.search(value) or not value.isascii():
                raise DkimKeyError(f"DKIM {label} {value!r} is not a plain ASCII name")


def relaxed_header(name: str, value: str) -> bytes:
    """A header field in DKIM "relaxed" canonical form, CRLF included."""
    value = _WSP_RUN_TEXT.sub(" ", value.replace("\r\n", "")).strip()
    # UTF-8: an internationalised To header is signed as the bytes sent (RFC 8616).
    return f"{name.lower()}:{value}\r\n".encode()


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise DkimKeyError(f"the DKIM key is not an unencrypted PEM private key: {error}") from None
    if not isinstance(private, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise DkimKeyError("a DKIM key is RSA or Ed25519 (PEM)")
    return private


def public_record(key: DkimKey) -> str:
    """The TXT record to publish at ``<selector>._domainkey.<domain>`` for `key`."""
    private = load_private_key(key.private_key)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return f"v=DKIM1; k=ed25519; p={b64encode(raw).decode('ascii')}"
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={b64encode(der).decode('ascii')}"


class _Key:
    def __init__(self, key: DkimKey) -> None:
        self.private = load_private_key(key.private_key)
        algorithm = (
            "ed25519-sha256"
            if isinstance(self.private, ed25519.Ed25519PrivateKey)
            else "rsa-sha256"
        )
        self.prefix = f"v=1; a={algorithm}; c=relaxed/relaxed; d={key.domain}; s={key.selector};"

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            # RFC 8463 §3: PureEdDSA over the SHA-256 hash of the signed header data.
            return self.private.sign(hashlib.sha256(data).digest())
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


class DkimSigner:
    """Signs with every key given, in order (RSA first is what receivers expect most)."""

    def __init__(self, keys: Sequence[DkimKey], signed_headers: Sequence[str]) -> None:
        if not keys:
            raise DkimKeyError("DKIM signing needs at least one key")
        self._keys = [_Key(key) for key in keys]
        self._signed = {name.lower() for name in signed_headers}

    def sign(self, fields: Sequence[tuple[str, str]], canonical_body: Sequence[bytes]) -> str:
        """The DKIM-Signature header lines for a message with `fields` and `canonical_body`."""
        body_hash = hashlib.sha256()
        for piece in canonical_body:
            body_hash.update(piece)
        chosen = [(name, value) for name, value in fields if name.lower() in self._signed]
        common = (
            f"\r\n t={int(time.time())}; h={':'.join(n for n, _ in chosen)};\r\n"
            f" bh={b64encode(body_hash.digest()).decode('ascii')};\r\n b="
        )
        signed_fields = b"".join(relaxed_header(name, value) for name, value in chosen)
        lines = []
        for key in self._keys:
            tags = key.prefix + common
            # The signature's own header, b= empty and without its CRLF, ends the signed data.
            data = signed_fields + relaxed_header("DKIM-Signature", tags)[:-2]
            signature = b64encode(key.sign(data)).decode("ascii")
            folded = "\r\n ".join(signature[i : i + 72] for i in range(0, len(signature), 72))
            lines.append(f"DKIM-Signature: {tags}{folded}\r\n")
        return "".join(lines)
