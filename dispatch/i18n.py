"""Languages dispatch speaks (French first, English): message catalogue and date formatting.

Message ids are the English text; `CATALOG` maps each id to its French translation. Dates
and times are formatted with Babel and shown in the organisation's time zone (Europe/Paris),
so that « 17 juillet 2024 à 14:30 » reads the same in an email and on a web page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.dates import get_timezone_location

LOCALES: tuple[str, ...] = ("fr", "en")
DEFAULT_LOCALE = "fr"
TIMEZONE = ZoneInfo("Europe/Paris")

#: English message id → French text. English needs no table: the id is the text.
CATALOG: dict[str, str] = {
    # Shared frame
    "Hello %(name)s,": "Bonjour %(name)s,",
    "Hello,": "Bonjour,",
    "View in your browser": "Voir dans le navigateur",
    "Manage my preferences": "Gérer mes préférences",
    "Unsubscribe": "Se désabonner",
    "This email was sent to %(email)s.": "Ce message a été envoyé à %(email)s.",
    "You receive this email because you subscribed to the %(org)s mailing list.": (
        "Vous recevez ce message parce que vous êtes abonné·e à la lettre d’information de %(org)s."
    ),
    "Choose your topics and how often you hear from us, or unsubscribe in one click:": (
        "Choisissez vos thèmes et le rythme de nos envois, ou désabonnez-vous en un clic :"
    ),
    "This is the online version of a newsletter from %(org)s.": (
        "Vous lisez la version en ligne d’une lettre d’information de %(org)s."
    ),
    "Subscribe to our newsletter": "S’abonner à la lettre d’information",
    "Read more": "Lire la suite",
    "%(label)s: %(url)s": "%(label)s : %(url)s",
    "Read the article": "Lire l’article",
    "Published on %(date)s": "Publié le %(date)s",
    "Logo of %(org)s": "Logo de %(org)s",
    # Newsletter
    "Highlights": "À la une",
    "Upcoming events": "Agenda",
    "Our picks": "Notre sélection",
    "We love it": "On aime",
    "Up for debate": "Controverse",
    "Must read": "À lire absolument",
    "Why we chose it:": "Pourquoi on l’a choisi :",
    # Alert
    "New on %(org)s": "Nouveau sur %(org)s",
    "Just published": "Vient de paraître",
    # Digest
    "Your weekly digest": "Votre sélection de la semaine",
    "Your monthly digest": "Votre sélection du mois",
    "Your digest": "Votre sélection",
    "What is new in the topics you follow.": "Les nouveautés des thèmes que vous suivez.",
    "Nothing new in your topics this time.": "Rien de neuf dans vos thèmes cette fois-ci.",
    # Event
    "Save the date": "À vos agendas",
    "Reminder": "Rappel",
    "Change of plans": "Changement de programme",
    "Cancellation": "Annulation",
    "Reminder: %(title)s": "Rappel : %(title)s",
    "Reminder: %(title)s, %(day)s": "Rappel : %(title)s, %(day)s",
    "Change: %(title)s": "Changement : %(title)s",
    "Cancelled: %(title)s": "Annulé : %(title)s",
    "A reminder of this event, which you follow on %(org)s:": (
        "Petit rappel de ce rendez-vous, que vous suivez sur %(org)s :"
    ),
    "This event has changed.": "Cet évènement a changé.",
    "Here is what holds now.": "Voici ce qui est désormais prévu.",
    "Previously:": "Auparavant :",
    "cancelled": "annulé",
    "This event is cancelled.": "Cet évènement est annulé.",
    "We are sorry for the trouble.": "Nous vous prions de nous en excuser.",
    "Cancelled:": "Annulé :",
    "this event will not take place.": "cet évènement n’aura pas lieu.",
    "When:": "Quand :",
    "Where:": "Où :",
    "Online:": "En ligne :",
    "join online": "rejoindre en ligne",
    "Join online": "Rejoindre en ligne",
    "Organised by:": "Organisé par :",
    "Price:": "Tarif :",
    "Register": "S’inscrire",
    "Online": "En ligne",
    "Add to my calendar": "Ajouter à mon agenda",
    "Add to Google Calendar": "Ajouter à Google Agenda",
    "Add to Outlook": "Ajouter à Outlook",
    "The event is attached to this email as a calendar file (.ics): open it to add it to "
    "Outlook, Apple Calendar or Thunderbird.": (
        "L’évènement est joint à ce message (fichier .ics) : ouvrez-le pour l’ajouter à "
        "Outlook, Apple Calendrier ou Thunderbird."
    ),
    "The attached calendar file (.ics) updates the event in your calendar.": (
        "Le fichier joint (.ics) met à jour l’évènement dans votre agenda."
    ),
    "The attached calendar file (.ics) takes the event off your calendar if you had added it.": (
        "Le fichier joint (.ics) retire l’évènement de votre agenda si vous l’y aviez ajouté."
    ),
    "More about the event": "En savoir plus",
    "all day": "toute la journée",
    "from %(start)s to %(end)s": "du %(start)s au %(end)s",
    "%(date)s at %(time)s": "%(date)s à %(time)s",
    "%(date)s, %(start)s – %(end)s": "%(date)s, %(start)s – %(end)s",
    # Confirm
    "Confirm your subscription": "Confirmez votre abonnement",
    "Please confirm your subscription to %(org)s": (
        "Confirmez votre abonnement à la lettre de %(org)s"
    ),
    "Someone, hopefully you, asked to receive news from %(org)s at this address.": (
        "Quelqu’un, vous sans doute, a demandé à recevoir les nouvelles de %(org)s à cette adresse."
    ),
    "Confirm my subscription": "Je confirme mon abonnement",
    "If the button does not work, copy this address into your browser:": (
        "Si le bouton ne fonctionne pas, copiez cette adresse dans votre navigateur :"
    ),
    "If you did not ask for it, ignore this email: you will not hear from us again.": (
        "Si vous n’avez rien demandé, ignorez ce message : vous ne recevrez rien d’autre."
    ),
    "You receive this email because your address was entered on the %(org)s subscription form.": (
        "Vous recevez ce message parce que votre adresse a été saisie dans le formulaire "
        "d’abonnement de %(org)s."
    ),
    # Welcome
    "Welcome to %(org)s": "Bienvenue à la lettre de %(org)s",
    "Welcome!": "Bienvenue !",
    "Your subscription is confirmed. Here is what to expect:": (
        "Votre abonnement est confirmé. Voici ce qui vous attend :"
    ),
    "our newsletter, a few times a year;": "notre lettre d’information, quelques fois par an ;",
    "alerts or digests for the topics you choose;": (
        "des alertes ou des récapitulatifs pour les thèmes que vous choisissez ;"
    ),
    "invitations to our events.": "des invitations à nos événements.",
    "You can change your topics and frequency at any time.": (
        "Vous pouvez changer vos thèmes et votre rythme à tout moment."
    ),
    "Visit our website": "Découvrir notre site",
    # Preferences link
    "Your preferences link": "Votre lien de préférences",
    "Manage your subscription to %(org)s": "Gérez votre abonnement à %(org)s",
    # Staff emails
    "Your staff account": "Votre compte d’équipe",
    "An account on dispatch, the tool %(org)s uses to send its newsletters and social posts, "
    "was opened for you. Choose your password to start.": (
        "Un compte vous a été ouvert sur dispatch, l’outil avec lequel %(org)s envoie ses "
        "lettres et ses publications sur les réseaux. Choisissez votre mot de passe pour "
        "commencer."
    ),
    "Choose my password": "Choisir mon mot de passe",
    "The link works once, for 48 hours. If you did not expect it, you can ignore this email.": (
        "Le lien ne sert qu’une fois, pendant 48 heures. Si vous ne l’attendiez pas, vous "
        "pouvez ignorer ce message."
    ),
    "You receive this email because an owner of %(org)s's dispatch added your address to its "
    "team.": (
        "Vous recevez ce message parce qu’un ou une responsable du dispatch de %(org)s a ajouté "
        "votre adresse à l’équipe."
    ),
    "Your staff account on dispatch · %(org)s": "Votre compte d’équipe sur dispatch · %(org)s",
    "Set a new password": "Choisir un nouveau mot de passe",
    "Someone, hopefully you, asked to set a new password for your staff account on dispatch.": (
        "Quelqu’un, vous sans doute, a demandé à choisir un nouveau mot de passe pour votre "
        "compte d’équipe sur dispatch."
    ),
    "The link works once, for a short time. If you did not ask for it, ignore this email: your "
    "password stays as it is.": (
        "Le lien ne sert qu’une fois, et peu de temps. Si vous n’avez rien demandé, ignorez ce "
        "message : votre mot de passe ne change pas."
    ),
    "You receive this email because a new password was asked for your staff account at %(org)s.": (
        "Vous recevez ce message parce qu’un nouveau mot de passe a été demandé pour votre "
        "compte d’équipe chez %(org)s."
    ),
    "A new password for dispatch · %(org)s": "Un nouveau mot de passe pour dispatch · %(org)s",
    "You asked for a link to manage your subscription. It is personal: please do not "
    "forward this email.": (
        "Vous avez demandé un lien pour gérer votre abonnement. Il vous est personnel : "
        "ne transférez pas ce message."
    ),
    "If you did not ask for it, you can ignore this email.": (
        "Si vous n’avez rien demandé, vous pouvez ignorer ce message."
    ),
    "You receive this email because someone asked for a preferences link for this "
    "address on the %(org)s website.": (
        "Vous recevez ce message parce qu’un lien de préférences a été demandé pour cette "
        "adresse sur le site de %(org)s."
    ),
    # Re-permission, before a purge of the inactive
    "Do you still want news from %(org)s?": (
        "Voulez-vous encore recevoir les nouvelles de %(org)s ?"
    ),
    "Do you want to stay?": "Voulez-vous rester abonné·e ?",
    "We have not heard from you in a long time, and we keep no one's address without a reason.": (
        "Nous n’avons pas eu de vos nouvelles depuis longtemps, et nous ne gardons l’adresse "
        "de personne sans raison."
    ),
    "If you still want our news, press the button: nothing else changes.": (
        "Si vous voulez toujours recevoir nos nouvelles, appuyez sur le bouton : rien d’autre "
        "ne change."
    ),
    "If you do nothing, your address and everything we hold about you will be deleted in "
    "30 days.": (
        "Si vous ne faites rien, votre adresse et tout ce que nous savons de vous seront "
        "effacés dans 30 jours."
    ),
    "I want to stay subscribed": "Je reste abonné·e",
}


#: French spacing (Lexique des règles typographiques en usage à l'Imprimerie nationale): a
#: no-break space before a colon, a narrow one before ; ! ? and inside « », so that a line
#: never starts with the sign.
_BEFORE_COLON = re.compile(r"[ \u00a0\u202f]+:(?=\s|$)")
_BEFORE_HIGH = re.compile(r"[ \u00a0\u202f]+([;!?])")
# Guillemets always take their narrow spaces, even when the text was typed without them
# (« mot » and «mot» read the same); ; ! ? : only where a space was typed, so that URLs,
# code and English text (no space before the sign) are left alone.
_AFTER_OPENING = re.compile(r"«[ \u00a0\u202f]*")
_BEFORE_CLOSING = re.compile(r"(?<=\S)»|[ \u00a0\u202f]+»")


def french_spacing(text: str) -> str:
    """`text` with French spacing around punctuation; the words themselves untouched."""
    text = _BEFORE_COLON.sub("\u00a0:", text)
    text = _BEFORE_HIGH.sub(lambda m: "\u202f" + m.group(1), text)
    text = _BEFORE_CLOSING.sub("\u202f»", text)
    return _AFTER_OPENING.sub("«\u202f", text)


_LINE_SPACE = re.compile(r"[ \t\r\n]+")


def one_line(text: str) -> str:
    """`text` on one line (a subject, a preheader): line breaks and indentation become single
    spaces, while the no-break spaces of French typography stay."""
    return _LINE_SPACE.sub(" ", text).strip()


def french_catalog(catalog: dict[str, str]) -> dict[str, str]:
    """A translation catalog as readers see it: French spacing in every translation."""
    return {msgid: french_spacing(text) for msgid, text in catalog.items()}


CATALOG = french_catalog(CATALOG)


def normalise_locale(locale: str | None) -> str:
    """The supported locale closest to `locale` ("fr-FR" → "fr"); French when unknown."""
    if not locale:
        return DEFAULT_LOCALE
    short = locale.replace("_", "-").split("-", 1)[0].lower()
    return short if short in LOCALES else DEFAULT_LOCALE


def gettext(locale: str, msgid: str) -> str:
    """`msgid` (English) in `locale`; the English text itself when no translation exists."""
    if normalise_locale(locale) == "fr":
        return CATALOG.get(msgid, msgid)
    return msgid


def translator(locale: str) -> Callable[[str], str]:
    """A one-argument `_` bound to `locale`, for templates: ``{{ _("Unsubscribe") }}``."""
    code = normalise_locale(locale)
    if code == "fr":
        return lambda msgid: CATALOG.get(msgid, msgid)
    return lambda msgid: msgid


def local_time(value: datetime) -> datetime:
    """`value` in Europe/Paris; a naive datetime is taken to be UTC (how dispatch stores them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(TIMEZONE)


def _first_of_month(text: str, day: date, locale: str) -> str:
    """French writes the first day of a month as an ordinal: « 1er décembre »."""
    if day.day != 1 or normalise_locale(locale) != "fr":
        return text
    return re.sub(r"(?<!\d)1(?=\s)", "1er", text, count=1)


def format_date(value: date | datetime, locale: str) -> str:
    """A long date, « 17 juillet 2024 » or "July 17, 2024"; datetimes are taken to Paris first."""
    day = local_time(value).date() if isinstance(value, datetime) else value
    text = babel_format_date(day, format="long", locale=normalise_locale(locale))
    return _first_of_month(text, day, locale)


def format_time(value: datetime, locale: str) -> str:
    """A short time in Paris: « 14:30 » or "2:30 PM"."""
    return babel_format_time(local_time(value), format="short", locale=normalise_locale(locale))


def format_datetime(value: datetime, locale: str) -> str:
    """« 17 juillet 2024 à 14:30 » or "July 17, 2024 at 2:30 PM"."""
    return gettext(locale, "%(date)s at %(time)s") % {
        "date": format_date(value, locale),
        "time": format_time(value, locale),
    }


# --- Events ------------------------------------------------------------------------------
# An event reads as people say it: « jeudi 3 décembre 2026, 14 h 00 – 16 h 30 », « du 18 au
# 19 mars 2027 », "Thursday, December 3, 2026, 2:00 PM – 4:30 PM". French times take
# no-break spaces (« 14 h 00 » never splits across lines).

_DAY_PATTERNS = {"fr": "EEEE d MMMM y", "en": "EEEE, MMMM d, y"}
_CLOCK_PATTERNS = {"fr": "H\u00a0'h'\u00a0mm", "en": "h:mm\u202fa"}


def _zone(timezone: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(timezone, ZoneInfo):
        return timezone
    if not timezone:
        return TIMEZONE
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return TIMEZONE


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(zone)


def format_day(value: date | datetime, locale: str, *, timezone: str | None = None) -> str:
    """The day with its weekday: « mardi 1er décembre 2026 », "Tuesday, December 1, 2026"."""
    code = normalise_locale(locale)
    day = _in_zone(value, _zone(timezone)).date() if isinstance(value, datetime) else value
    return _first_of_month(babel_format_date(day, _DAY_PATTERNS[code], locale=code), day, code)


def format_clock(value: datetime, locale: str, *, timezone: str | None = None) -> str:
    """A time of day: « 9 h 00 », "9:00 AM" (Paris unless `timezone` says otherwise)."""
    code = normalise_locale(locale)
    moment = _in_zone(value, _zone(timezone))
    return babel_format_time(moment, _CLOCK_PATTERNS[code], locale=code)


def format_moment(value: datetime, locale: str, *, timezone: str | None = None) -> str:
    """« mardi 1er décembre 2026, 9 h 00 », "Tuesday, December 1, 2026, 9:00 AM"."""
    return (
        f"{format_day(value, locale, timezone=timezone)}, "
        f"{format_clock(value, locale, timezone=timezone)}"
    )


def _day_range(first: date, last: date, locale: str) -> str:
    """« du 18 au 19 mars 2027 », « du 30 mars au 2 avril 2027 », "March 18–19, 2027"."""
    code = normalise_locale(locale)
    if code == "fr":
        start_pattern = "d" if (first.year, first.month) == (last.year, last.month) else "d MMMM"
        if first.year != last.year:
            start_pattern = "d MMMM y"
        start = _first_of_month(babel_format_date(first, start_pattern, locale=code), first, code)
        if first.day == 1 and start_pattern == "d":
            start = "1er"
        end = _first_of_month(babel_format_date(last, "d MMMM y", locale=code), last, code)
        return f"du {start} au {end}"
    if first.year != last.year:
        return (
            f"{babel_format_date(first, 'MMMM d, y', locale=code)} – "
            f"{babel_format_date(last, 'MMMM d, y', locale=code)}"
        )
    if first.month != last.month:
        return (
            f"{babel_format_date(first, 'MMMM d', locale=code)} – "
            f"{babel_format_date(last, 'MMMM d, y', locale=code)}"
        )
    return f"{babel_format_date(first, 'MMMM d', locale=code)}–{last.day}, {last.year}"


def zone_label(timezone: str | None, locale: str) -> str:
    """How a reader is told that times are not Paris times: « heure : Canada (Toronto) »."""
    zone = _zone(timezone)
    if zone.key == TIMEZONE.key:
        return ""
    return str(get_timezone_location(zone, locale=normalise_locale(locale)))


def format_event_when(
    start: datetime | date,
    end: datetime | date | None,
    *,
    all_day: bool,
    locale: str,
    timezone: str | None = None,
) -> str:
    """When an event happens, as a reader would say it.

    « jeudi 3 décembre 2026, 14 h 00 – 16 h 30 », « jeudi 18 mars 2027 (toute la journée) »,
    « du 18 au 19 mars 2027 », « du jeudi 3 décembre 2026, 14 h 00 au vendredi 4 décembre
    2026, 12 h 00 ». An all-day `end` is exclusive, as in iCalendar: an event on the 17th
    alone ends on the 18th. Times are shown in `timezone` (Paris by default), with the
    zone named when it is not Paris.
    """
    if all_day:
        first = start.date() if isinstance(start, datetime) else start
        last = end.date() if isinstance(end, datetime) else end
        if last is not None:
            last = last - timedelta(days=1)
        if last is None or last <= first:
            return f"{format_day(first, locale)} ({gettext(locale, 'all day')})"
        return _day_range(first, last, locale)
    if not isinstance(start, datetime):
        return format_day(start, locale)
    zone = _zone(timezone)
    label = zone_label(zone.key, locale)
    suffix = f" — {label}" if label else ""
    if not isinstance(end, datetime) or end <= start:
        return format_moment(start, locale, timezone=zone.key) + suffix
    if _in_zone(start, zone).date() == _in_zone(end, zone).date():
        return (
            gettext(locale, "%(date)s, %(start)s – %(end)s")
            % {
                "date": format_day(start, locale, timezone=zone.key),
                "start": format_clock(start, locale, timezone=zone.key),
                "end": format_clock(end, locale, timezone=zone.key),
            }
            + suffix
        )
    return (
        gettext(locale, "from %(start)s to %(end)s")
        % {
            "start": format_moment(start, locale, timezone=zone.key),
            "end": format_moment(end, locale, timezone=zone.key),
        }
        + suffix
    )


def parse_local(text: str, *, timezone: str = "Europe/Paris") -> datetime:
    """A date or time as staff type it: ``2026-12-01`` (midnight), ``2026-12-01 09:00``, in
    `timezone` unless it carries an offset (``+01:00``, ``Z``). ValueError says how to write it."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"{text!r} is not a date and time: write it as 2026-12-01 09:00 ({timezone}), "
            "2026-12-01, or 2026-12-01T09:00+01:00."
        ) from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value


def staff_time(value: datetime | None, *, timezone: str = "Europe/Paris") -> str:
    """A stored time as staff read it in a terminal: ``2026-12-01 09:00`` in `timezone`."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def staff_span(
    start: datetime | None,
    end: datetime | None,
    *,
    all_day: bool,
    timezone: str = "Europe/Paris",
) -> str:
    """An event's span as staff read it: ``2027-03-18 – 2027-03-19 (all day)``,
    ``2026-12-03 14:00–16:30``. All-day events are stored as their first and last days."""
    if start is None:
        return ""
    if all_day:
        first, last = start.date(), (end or start).date()
        days = f"{first:%Y-%m-%d}" if last <= first else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"
        return f"{days} (all day)"
    begins = staff_time(start, timezone=timezone)
    if end is None or end <= start:
        return begins
    ends = staff_time(end, timezone=timezone)
    if ends[:10] == begins[:10]:
        return f"{begins}–{ends[11:]}"
    return f"{begins} – {ends}"
