"""How staff pages show shared things: times in Europe/Paris in the reader's words, the
status badges of editions, progress of a send.

Every page group uses these, so an edition's state or a time reads the same everywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from babel.numbers import format_decimal

from dispatch import i18n
from dispatch.db import utcnow

#: Edition states as badges: (message id, badge class). The class only adds colour; the
#: word always says the state.
STATUS_BADGES: dict[str, tuple[str, str]] = {
    "draft": ("Draft", "badge"),
    "scheduled": ("Scheduled", "badge info"),
    "sending": ("Sending", "badge warn"),
    "paused": ("Paused", "badge warn"),
    "sent": ("Sent", "badge ok"),
    "cancelled": ("Cancelled", "badge muted"),
}
KIND_LABELS = {
    "newsletter": "Newsletter",
    "digest": "Digest",
    "alert": "Alert",
    "event": "Event",
}


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))  # fmt: skip
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))  # fmt: skip


def browser(user_agent: str | None) -> str:
    """ "Firefox on Windows" from a User-Agent header, or what it says when unknown."""
    agent = user_agent or ""
    name = next((label for mark, label in _BROWSERS if mark in agent), "")
    system = next((label for mark, label in _SYSTEMS if mark in agent), "")
    if name and system:
        return f"{name} · {system}"
    return name or system or (agent[:40] or "?")


#: A scheduled letter still not started this long after its time: the beat's tick starts it
#: within a minute, so something is not running.
LATE = timedelta(minutes=3)


def is_late(edition: Any) -> bool:
    return (
        edition.status == "scheduled"
        and edition.send_at is not None
        and edition.send_at < utcnow() - LATE
    )


def moment(value: datetime | str | None, locale: str, timezone: str = "Europe/Paris") -> str:
    """« mardi 1er décembre 2026, 9 h 00 »; "" for no time."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return i18n.format_moment(value, locale, timezone=timezone)


def clock(value: datetime | str | None, locale: str, timezone: str = "Europe/Paris") -> str:
    """« 9 h 00 », for a time later today (an estimated end)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return i18n.format_clock(value, locale, timezone=timezone)


def badge(status: str) -> tuple[str, str]:
    return STATUS_BADGES.get(status, (status, "badge"))


def progress(status: dict[str, Any], locale: str, timezone: str) -> dict[str, Any]:
    """`controls.status` as a page and the polling script show it."""
    counts = status["counts"]
    return {
        "id": status["id"],
        "status": status["status"],
        "sent": counts["sent"] + counts["bounced"],
        "queued": counts["queued"] + counts["sending"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "recipients": status["recipients"],
        "percent": round(100 * status["progress"]),
        "rate": format_decimal(status["rate_per_second"], locale=i18n.normalise_locale(locale)),
        "estimated_end": clock(status["estimated_end"], locale, timezone),
        "finished": status["status"] in ("sent", "cancelled"),
    }
