"""The demo newsletter: La 27e Région's monthly letter, made from the demo items and
scheduled a couple of minutes after seeding, so `make run` shows a real send into the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.editions import choosing, drafts
from dispatch.editions.models import Edition
from dispatch.editions.schedule import schedule_edition

#: Time between seeding and the demo newsletter's send: long enough to preview and test it.
SEND_DELAY = timedelta(minutes=2)

INTRO = """Bonjour à toutes et à tous,

L'automne a été dense à la 27e Région. Nous avons poursuivi nos résidences dans les
territoires, ouvert de nouveaux chantiers sur **l'évaluation des politiques publiques**
et continué à chercher, avec vous, comment faire de la transition écologique un levier
de justice sociale.

Dans cette lettre, vous trouverez nos derniers articles, les rendez-vous à venir — dont
nos *ateliers du jeudi*, ouverts à toutes les personnes curieuses — et quelques lectures
repérées par l'équipe, qui nous ont plu, bousculés ou qu'il faut absolument lire.

Bonne lecture, et n'hésitez pas à nous écrire : vos retours nourrissent nos travaux.

L'équipe de la 27e Région
"""


INTRO_EN = """Hello everyone,

Autumn has been busy at La 27e Région: residencies in the territories, new work on
**evaluating public policy**, and the search, with you, for ways to make the ecological
transition a lever for social justice.

In this letter: our latest articles, upcoming events (our *Thursday workshops* are open to
anyone curious) and a few readings the team picked. Do [write to us](mailto:contact@la27eregion.fr):
your feedback feeds our work.

The La 27e Région team
"""


def newsletter_subject(now: datetime, locale: str = "fr") -> str:
    if locale == "en":
        month = format_date(i18n.local_time(now).date(), "LLLL yyyy", locale="en")
        return f"La 27e Région's letter · {month}"
    month = format_date(i18n.local_time(now).date(), "LLLL yyyy", locale="fr")
    return f"La lettre de la 27e Région · {month}"


def seed_newsletter(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> Edition | None:
    """Create the demo newsletter and schedule it `SEND_DELAY` from now.

    Does nothing (returns None) when a newsletter already exists or there is no item yet.
    Flushes; the caller commits.
    """
    if session.scalar(select(Edition.id).where(Edition.kind == "newsletter").limit(1)):
        return None
    now = now or utcnow()
    # What the editorial desk released for the letter: an item awaiting approval waits.
    found = choosing.items_published_between(session, since=None, channel="letter")
    items = choosing.order_items(found, now=now)[: choosing.MAX_ITEMS]
    if not items:
        return None
    edition = drafts.create_edition(
        session,
        subject=newsletter_subject(now),
        intro=INTRO,
        preheader="Nos derniers articles, nos prochains rendez-vous et nos coups de cœur.",
        items=items,
        translations={
            "en": {
                "subject": newsletter_subject(now, "en"),
                "preheader": "Our latest articles, upcoming events and favourite reads.",
                "intro": INTRO_EN,
            }
        },
    )
    schedule_edition(session, edition.id, send_at=now + SEND_DELAY, now=now)
    return edition
