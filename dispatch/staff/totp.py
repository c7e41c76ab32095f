"""The optional second factor: TOTP (RFC 6238, any authenticator app) and recovery codes.

The TOTP secret is stored encrypted with a key derived from `security.secret_key` (and the
old keys, for rotation); recovery codes are random 80-bit codes kept as SHA-256 digests,
each usable once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.social.crypto import CredentialCipher, CredentialError
from dispatch.staff.models import StaffUser

RECOVERY_CODES = 10


def _cipher(settings: Settings) -> CredentialCipher:
    keys = []
    for key in settings.security.signing_keys():
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"dispatch.staff.totp"
        ).derive(key.encode())
        keys.append(base64.urlsafe_b64encode(derived).decode())
    return CredentialCipher(keys)


def _secret(settings: Settings, user: StaffUser) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _cipher(settings).decrypt(user.totp_secret)["secret"]
    except (CredentialError, KeyError):
        return None


def provisioning_uri(settings: Settings, user: StaffUser, secret: str) -> str:
    issuer = f"dispatch · {settings.branding.org_name}"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no image library, no request elsewhere)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def start(session: Session, settings: Settings, user: StaffUser) -> str:
    """A new secret, stored but not in force until a code from it is confirmed."""
    secret = pyotp.random_base32()
    user.totp_secret = _cipher(settings).encrypt({"secret": secret})
    user.totp_enabled_at = None
    session.flush()
    return secret


def pending_secret(settings: Settings, user: StaffUser) -> str | None:
    return _secret(settings, user) if user.totp_enabled_at is None else None


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()


def _new_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 16 characters, 80 bits
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def confirm(session: Session, settings: Settings, user: StaffUser, code: str) -> list[str]:
    """Turn the second factor on once a code from the new secret is right; returns the
    recovery codes, shown once. ValueError if the code is wrong."""
    secret = pending_secret(settings, user)
    if secret is None or not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise ValueError("that code is not the one the app shows now")
    codes = _new_codes()
    user.recovery_codes = [_digest(c) for c in codes]
    user.totp_enabled_at = utcnow()
    session.flush()
    audit.record(
        session,
        "staff.two_factor_on",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email},
    )
    return codes


def turn_off(session: Session, user: StaffUser) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.recovery_codes = []
    session.flush()
    audit.record(
        session,
        "staff.two_factor_off",
        object_type="staff",
        object_id=user.id,
        summary={"email": user.email},
    )


def _fresh_code(session: Session, user: StaffUser, totp: pyotp.TOTP, code: str) -> bool:
    """The code of this 30-second step or a neighbour (clock drift), never one already used."""
    now = int(time.time())
    for step in (now // totp.interval + offset for offset in (0, -1, 1)):
        if hmac.compare_digest(totp.at(step * totp.interval), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            session.flush()
            return True
    return False


def check(session: Session, settings: Settings, user: StaffUser, code: str) -> bool:
    """A login's second step: the app's current code, or an unused recovery code (used up)."""
    given = code.strip()
    secret = _secret(settings, user)
    if user.totp_enabled_at is None or secret is None or not given:
        return False
    if given.replace(" ", "").isdigit():
        return _fresh_code(session, user, pyotp.TOTP(secret), given.replace(" ", ""))
    digest = _digest(given)
    for stored in list(user.recovery_codes or []):
        if hmac.compare_digest(stored, digest):
            user.recovery_codes = [c for c in user.recovery_codes if c != stored]
            session.flush()
            audit.record(
                session,
                "staff.recovery_code_used",
                object_type="staff",
                object_id=user.id,
                summary={"email": user.email, "left": len(user.recovery_codes)},
            )
            return True
    return False
