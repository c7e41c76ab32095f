"""Abuse limits: subscription bombing mails victims, so every path that sends is capped.

Per address (any email we send on someone's request: confirmation, link), per client IP
(every public form) and for the whole site (a ceiling on form posts per hour, against an
attack spread over many addresses). The limits are `web.*` settings. Counters live in the
database (`dispatch.ratelimit`); IPs are stored hashed because a counter key is no place for
personal data. Which address a visitor has is the web layer's to decide (`web.clientip`).
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from dispatch import ratelimit
from dispatch.audience.suppression import email_hash
from dispatch.config import Settings

HOUR = 3600
DAY = 86400


def allow_mail(session: Session, settings: Settings, email: str) -> bool:
    """Count one requested mail to `email`; False when it must not be sent."""
    key = f"mail:{email_hash(settings, email)[:32]}"
    web = settings.web
    hourly = ratelimit.hit(
        session, key + ":h", window_seconds=HOUR, limit=web.mails_per_address_per_hour
    )
    daily = ratelimit.hit(
        session, key + ":d", window_seconds=DAY, limit=web.mails_per_address_per_day
    )
    return hourly and daily


def allow_post(session: Session, settings: Settings, action: str, ip: str | None) -> bool:
    """Count one form post from `ip`; False when the IP has posted too often this hour, or
    the whole site has."""
    web = settings.web
    site_wide = ratelimit.hit(session, "post:*", window_seconds=HOUR, limit=web.posts_per_hour)
    if not ip:
        return site_wide
    digest = hashlib.sha256(f"{settings.secret_key}:{ip}".encode()).hexdigest()[:24]
    per_ip = ratelimit.hit(
        session, f"post:{action}:{digest}", window_seconds=HOUR, limit=web.posts_per_ip_per_hour
    )
    return site_wide and per_ip
