"""Time zone names as calendars write them, made into IANA names dispatch can use.

Google and Nextcloud write IANA names (``Europe/Paris``); Outlook and Exchange write Windows
names (``Romance Standard Time``); some exports prefix a vendor path
(``/freeassociation.sourceforge.net/Europe/Paris``). The Events Calendar writes IANA names or
offsets such as ``UTC+2``, which name no zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON


def zone_name(tzid: str) -> str | None:
    """The IANA name for `tzid`, or None when it names no zone this machine knows."""
    name = tzid.strip().strip('"')
    if not name:
        return None
    name = WINDOWS_TO_OLSON.get(name, name)
    candidates = [name]
    if "/" in name:
        # A vendor prefix: keep the last "Area/City" (or "Area/Sub/City") that is a zone.
        parts = name.strip("/").split("/")
        candidates += ["/".join(parts[index:]) for index in range(1, len(parts) - 1)]
    for candidate in candidates:
        if candidate in _known():
            try:
                ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return candidate
    return None


_KNOWN: set[str] = set()


def _known() -> set[str]:
    if not _KNOWN:
        _KNOWN.update(available_timezones())
    return _KNOWN
