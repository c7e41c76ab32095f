"""A subscriber's consent history in words: the ledger's details (topics by name and
rhythm, languages, before → after) as staff read them; the GDPR export keeps them whole."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dispatch import i18n
from dispatch.web.admin.guard import Staff
from dispatch.web.admin.words import translate

#: Words for the values staff see (message ids of catalogue/people.py).
FREQUENCY_LABELS = {"immediately": "Immediately", "weekly": "Weekly", "monthly": "Monthly"}
LANGUAGE_LABELS = {"fr": "French", "en": "English"}
STATUS_LABELS = {
    "pending": "Waiting for confirmation",
    "active": "status|Active",
    "unsubscribed": "status|Unsubscribed",
    "bounced": "Bounced",
    "complained": "Complained",
}


#: The ledger's detail keys, as staff read them (a key not listed is shown as it is).
DETAIL_LABELS = {
    "topics": "Topics",
    "locale": "Language",
    "welcome": "Welcome email",
    "letter": "The letter",
    "name_given": "Name given",
    "previous_status": "Before",
    "paused_until": "Paused until",
    "event_reminders": "Event reminders",
    "asked_at": "Asked on",
    "years_inactive": "Years without a sign",
    "hard": "Hard bounce",
    "soft_bounces": "Soft bounces so far",
}


def details(staff: Staff, details: dict[str, Any], names: dict[str, str]) -> str:
    """A ledger row's details in words (the GDPR export keeps them whole, as recorded)."""
    locale = staff.user.language
    return " · ".join(
        translate(locale, "%(label)s:") % {"label": translate(locale, DETAIL_LABELS.get(key, key))}
        + " "
        + detail(staff, key, value, names)
        for key, value in sorted(details.items())
    )[:600]


def detail(staff: Staff, key: str, value: Any, names: dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"before", "after"}:
        before = detail(staff, key, value["before"], names)
        return f"{before} → {detail(staff, key, value['after'], names)}"
    if value is None or value == {}:
        return "—"
    if isinstance(value, bool):
        return translate(staff.user.language, "yes" if value else "no")
    if key == "topics" and isinstance(value, dict):
        return ", ".join(
            f"{names.get(slug, slug)} "
            f"({translate(staff.user.language, FREQUENCY_LABELS.get(str(f), str(f))).lower()})"
            for slug, f in value.items()
        )
    if key == "locale" and isinstance(value, str):
        return translate(staff.user.language, LANGUAGE_LABELS.get(value, value)).lower()
    if key == "previous_status" and isinstance(value, str):
        return translate(staff.user.language, STATUS_LABELS.get(value, value)).lower()
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return i18n.format_date(moment, staff.user.language)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
