"""Social account credentials encrypted at rest (Fernet), with key rotation.

The key comes from settings (`social.credentials_key`, environment only): one or more Fernet
keys separated by commas, newest first. Data is encrypted with the newest and decrypted
with any, so a new key can be put in front and old ciphertexts re-encrypted with `rotate`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialError(Exception):
    """Credentials cannot be encrypted or read back; the message says what to do."""


def generate_key() -> str:
    """A new random key for `DISPATCH_SOCIAL__CREDENTIALS_KEY`."""
    return Fernet.generate_key().decode()


class CredentialCipher:
    """Encrypts and decrypts credential dictionaries; never shows a key or a secret."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise CredentialError(
                "no credentials key: set DISPATCH_SOCIAL__CREDENTIALS_KEY "
                "(make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            )
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except (ValueError, TypeError) as err:
                raise CredentialError(
                    f"credentials key number {position} is not a Fernet key "
                    "(32 random bytes in URL-safe base64)"
                ) from err
        self._fernet = MultiFernet(fernets)
        self._count = len(fernets)

    @classmethod
    def from_setting(cls, value: object) -> CredentialCipher:
        """From the setting's value: a str or pydantic SecretStr, keys comma-separated."""
        if value is None:
            return cls([])
        getter = getattr(value, "get_secret_value", None)
        text = getter() if callable(getter) else str(value)
        return cls([k for k in text.split(",") if k.strip()])

    def __repr__(self) -> str:
        return f"CredentialCipher(keys={self._count}, ***)"

    def encrypt(self, credentials: Mapping[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(dict(credentials), sort_keys=True).encode())

    def decrypt(self, token: bytes | str) -> dict[str, str]:
        raw = token.encode() if isinstance(token, str) else token
        try:
            data = json.loads(self._fernet.decrypt(raw))
        except InvalidToken as err:
            raise CredentialError(
                "stored credentials cannot be decrypted with the configured keys "
                "(was the key changed without keeping the old one after it?)"
            ) from err
        if not isinstance(data, dict):
            raise CredentialError("stored credentials are not a set of named values")
        return {str(k): str(v) for k, v in data.items()}

    def rotate(self, token: bytes | str) -> bytes:
        """The same credentials encrypted with the newest key."""
        raw = token.encode() if isinstance(token, str) else token
        try:
            return self._fernet.rotate(raw)
        except InvalidToken as err:
            raise CredentialError("stored credentials cannot be decrypted for rotation") from err
