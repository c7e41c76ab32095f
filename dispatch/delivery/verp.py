"""Per-delivery return paths (VERP): encode a delivery id into a bounce address, decode it back.

The id is signed with an HMAC so that a forged bounce cannot mark an arbitrary delivery as
bounced, and everything is lowercase because some MTAs lowercase the addresses they report.
"""

from __future__ import annotations

import hashlib
import hmac
import re

#: Header carrying the same signed token inside the message itself, so that a complaint
#: (ARF) quoting only the original headers can still be matched to its delivery.
DELIVERY_HEADER = "X-Dispatch-Delivery"

_MAC_LENGTH = 12  # hex digits: 48 bits, beyond guessing for a bounce mailbox
_TOKEN = re.compile(rf"d(\d{{1,18}})-([0-9a-f]{{{_MAC_LENGTH}}})")
_ADDRESS_TOKEN = re.compile(rf"[+\-=]{_TOKEN.pattern}@", re.IGNORECASE)


def _mac(delivery_id: int, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"dispatch-verp:{delivery_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:_MAC_LENGTH]


def make_token(delivery_id: int, secret: str | bytes) -> str:
    """The signed token for a delivery, e.g. ``d12345-3f9a0c1b2d4e``."""
    if delivery_id < 0:
        raise ValueError(f"a delivery id is a positive integer, not {delivery_id}")
    return f"d{delivery_id}-{_mac(delivery_id, secret)}"


def read_token(token: str, secret: str | bytes) -> int | None:
    """The delivery id in a token made by ``make_token``, or None if absent or forged."""
    match = _TOKEN.fullmatch(token.strip().lower())
    return _check(match, secret)


def encode(bounce_local: str, bounce_domain: str, delivery_id: int, secret: str | bytes) -> str:
    """The return path for one delivery: ``bounces+d12345-<mac>@example.org``."""
    local = bounce_local.strip().lower()
    domain = bounce_domain.strip().lower()
    if not local or not domain or "@" in local or "@" in domain:
        raise ValueError(f"not a bounce address: {bounce_local!r} @ {bounce_domain!r}")
    return f"{local}+{make_token(delivery_id, secret)}@{domain}"


def decode(address: str, secret: str | bytes) -> int | None:
    """The delivery id hidden in a VERP address, or None if there is none or it was altered.

    Accepts an address as found in a header (``<bounces+d1-…@x.org>``, with a display name,
    any case) and the ``-`` or ``=`` delimiters some MTAs are configured with.
    """
    match = _ADDRESS_TOKEN.search(address.lower())
    return _check(match, secret)


def _check(match: re.Match[str] | None, secret: str | bytes) -> int | None:
    if match is None:
        return None
    delivery_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _mac(delivery_id, secret)):
        return None
    return delivery_id


# The mailto: of List-Unsubscribe (RFC 2369) lands in the same mailbox as bounces, with the
# subscriber's signed id in the address: bounces+u42-<mac>@example.org.
_UNSUBSCRIBE = re.compile(rf"[+\-=]u(\d{{1,18}})-([0-9a-f]{{{_MAC_LENGTH}}})@", re.IGNORECASE)


def _unsubscribe_mac(subscriber_id: int, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"dispatch-unsubscribe:{subscriber_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:_MAC_LENGTH]


def encode_unsubscribe(
    bounce_local: str, bounce_domain: str, subscriber_id: int, secret: str | bytes
) -> str:
    """The address a mail client writes to when the reader unsubscribes by email."""
    local = bounce_local.strip().lower()
    domain = bounce_domain.strip().lower()
    return f"{local}+u{subscriber_id}-{_unsubscribe_mac(subscriber_id, secret)}@{domain}"


def decode_unsubscribe(address: str, secret: str | bytes) -> int | None:
    """The subscriber id in an unsubscribe address, or None if absent or forged."""
    match = _UNSUBSCRIBE.search(address.lower())
    if match is None:
        return None
    subscriber_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _unsubscribe_mac(subscriber_id, secret)):
        return None
    return subscriber_id
