"""Abuse limits: subscription bombing mails victims, so every path that sends is capped.

Per address (any email we send on someone's request: confirmation, link) and per client IP
(every public form). Counters live in the database (`dispatch.ratelimit`); IPs are stored
hashed because a counter key is no place for personal data.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from dispatch import ratelimit
from dispatch.audience.suppression import email_hash
from dispatch.config import Settings

HOUR = 3600
DAY = 86400
# Mails sent on request to one address: enough for "I lost the email, send it again".
MAIL_PER_ADDRESS_PER_HOUR = 3
MAIL_PER_ADDRESS_PER_DAY = 6
# Form posts from one IP: an office or a workshop behind one NAT must still get through.
POSTS_PER_IP_PER_HOUR = 30


def allow_mail(session: Session, settings: Settings, email: str) -> bool:
    """Count one requested mail to `email`; False when it must not be sent."""
    key = f"mail:{email_hash(settings, email)[:32]}"
    hourly = ratelimit.hit(
        session, key + ":h", window_seconds=HOUR, limit=MAIL_PER_ADDRESS_PER_HOUR
    )
    daily = ratelimit.hit(session, key + ":d", window_seconds=DAY, limit=MAIL_PER_ADDRESS_PER_DAY)
    return hourly and daily


def allow_post(session: Session, settings: Settings, action: str, ip: str | None) -> bool:
    """Count one form post from `ip`; False when the IP has posted too often this hour."""
    if not ip:
        return True
    digest = hashlib.sha256(f"{settings.secret_key}:{ip}".encode()).hexdigest()[:24]
    return ratelimit.hit(
        session, f"post:{action}:{digest}", window_seconds=HOUR, limit=POSTS_PER_IP_PER_HOUR
    )
