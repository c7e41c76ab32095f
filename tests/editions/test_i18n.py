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


NBSP = "\u00a0"


def _when(start, end, *, all_day=False, locale="fr", timezone=None):  # type: ignore[no-untyped-def]
    return i18n.format_event_when(start, end, all_day=all_day, locale=locale, timezone=timezone)


def test_a_timed_event_reads_with_its_weekday_and_french_times():
    start = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    end = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
    assert _when(start, end) == "jeudi 3 décembre 2026, 14 h 00 – 16 h 30".replace(
        " h ", f"{NBSP}h{NBSP}"
    )
    assert (
        _when(start, end, locale="en") == "Thursday, December 3, 2026, 2:00\u202fPM – 4:30\u202fPM"
    )
    first = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert _when(first, None) == f"mardi 1er décembre 2026, 9{NBSP}h{NBSP}00"


def test_an_event_over_several_days_is_kept_whole():
    # All-day ends are exclusive: 18 to 20 March means the 18th and the 19th.
    assert _when(date(2027, 3, 18), date(2027, 3, 20), all_day=True) == "du 18 au 19 mars 2027"
    assert _when(date(2027, 3, 18), date(2027, 3, 20), all_day=True, locale="en") == (
        "March 18–19, 2027"
    )
    assert _when(date(2027, 3, 30), date(2027, 4, 3), all_day=True) == "du 30 mars au 2 avril 2027"
    assert _when(date(2027, 4, 1), date(2027, 4, 4), all_day=True) == "du 1er au 3 avril 2027"
    assert _when(date(2026, 12, 30), date(2027, 1, 3), all_day=True) == (
        "du 30 décembre 2026 au 2 janvier 2027"
    )
    assert _when(date(2026, 12, 30), date(2027, 1, 3), all_day=True, locale="en") == (
        "December 30, 2026 – January 2, 2027"
    )
    assert _when(date(2024, 9, 19), date(2024, 9, 20), all_day=True) == (
        "jeudi 19 septembre 2024 (toute la journée)"
    )
    overnight = _when(
        datetime(2026, 12, 3, 13, 0, tzinfo=UTC), datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
    )
    assert overnight == (
        f"du jeudi 3 décembre 2026, 14{NBSP}h{NBSP}00 "
        f"au vendredi 4 décembre 2026, 12{NBSP}h{NBSP}00"
    )


def test_an_event_set_elsewhere_shows_its_own_time_and_says_so():
    start = datetime(2027, 4, 21, 13, 0, tzinfo=UTC)
    end = datetime(2027, 4, 21, 16, 0, tzinfo=UTC)
    text = _when(start, end, timezone="Europe/London")
    assert text.startswith(f"mercredi 21 avril 2027, 14{NBSP}h{NBSP}00 – 17{NBSP}h{NBSP}00 — ")
    assert text.endswith("heure : Royaume-Uni")
    assert "(" not in _when(start, end, timezone="Europe/Paris")


def test_unknown_locales_fall_back_to_french():
    assert i18n.normalise_locale("fr-FR") == "fr"
    assert i18n.normalise_locale("en_GB") == "en"
    assert i18n.normalise_locale("de") == "fr"
    assert i18n.gettext("de", "Unsubscribe") == "Se désabonner"
    assert i18n.gettext("en", "Unsubscribe") == "Unsubscribe"
    assert i18n.translator("fr")("Unsubscribe") == "Se désabonner"


def test_french_translations_keep_their_punctuation_on_the_line() -> None:
    """French typography: a no-break space before a colon, a narrow one before ; ! ? and
    inside « », in every catalogue (emails, public pages, staff pages), so that a line never
    starts with the sign."""
    import re

    from dispatch import i18n
    from dispatch.web.admin.words import STAFF
    from dispatch.web.i18n_web import PAGES

    loose = re.compile(r" [:;!?»]|« ")
    for catalog in (i18n.CATALOG, PAGES, STAFF):
        assert catalog
        bad = [text for text in catalog.values() if loose.search(text)]
        assert bad == []
    assert i18n.gettext("fr", "Welcome!") == "Bienvenue\u202f!"
    assert i18n.french_spacing("« Bonjour » : voici ; oui ? 14:00 https://x.fr") == (
        "«\u202fBonjour\u202f»\u00a0: voici\u202f; oui\u202f? 14:00 https://x.fr"
    )
    assert i18n.one_line("Changement\u00a0:\n   Atelier") == "Changement\u00a0: Atelier"
