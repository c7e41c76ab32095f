"""Dates and strings in French and English, as readers see them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from dispatch import i18n


def test_dates_read_naturally_in_both_languages():
    assert i18n.format_date(date(2024, 7, 17), "fr") == "17 juillet 2024"
    assert i18n.format_date(date(2024, 7, 17), "en") == "July 17, 2024"


def test_times_are_shown_in_paris():
    late = datetime(2024, 7, 17, 22, 30, tzinfo=UTC)  # already the 18th in Paris
    assert i18n.format_date(late, "fr") == "18 juillet 2024"
    assert i18n.format_datetime(late, "fr") == "18 juillet 2024 à 00:30"
    winter = datetime(2024, 1, 10, 12, 0)  # naive means UTC; Paris is UTC+1 in winter
    assert i18n.format_time(winter, "fr") == "13:00"


def test_event_spans():
    start = datetime(2024, 7, 17, 12, 0, tzinfo=UTC)
    end = datetime(2024, 7, 17, 15, 0, tzinfo=UTC)
    assert (
        i18n.format_event_when(start, end, all_day=False, locale="fr")
        == "17 juillet 2024, 14:00 – 17:00"
    )
    one_day = i18n.format_event_when(
        date(2024, 9, 19), date(2024, 9, 20), all_day=True, locale="fr"
    )
    assert one_day == "19 septembre 2024 (toute la journée)"
    three_days = i18n.format_event_when(
        date(2024, 9, 19), date(2024, 9, 22), all_day=True, locale="en"
    )
    assert three_days == "from September 19, 2024 to September 21, 2024"


def test_unknown_locales_fall_back_to_french():
    assert i18n.normalise_locale("fr-FR") == "fr"
    assert i18n.normalise_locale("en_GB") == "en"
    assert i18n.normalise_locale("de") == "fr"
    assert i18n.gettext("de", "Unsubscribe") == "Se désabonner"
    assert i18n.gettext("en", "Unsubscribe") == "Unsubscribe"
    assert i18n.translator("fr")("Unsubscribe") == "Se désabonner"
