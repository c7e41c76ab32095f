"""The demo: what `make run` shows a newcomer, written in the voice of La 27e Région.

Sample feeds ship in `dispatch/demo_data/`; the web app serves them under /demo/feeds/ in
embedded mode, so the demo sources are polled through the same code as a real site. The
agenda also holds a discovery workshop set a day and a few minutes after the demo was seeded,
so that `make run` shows its reminder go out: the day-before reminder falls due minutes
after the start.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience.demo import seed_subscribers
from dispatch.config import Settings
from dispatch.content import ical, ingest, items, rss, sources, topics
from dispatch.content.models import Source, Topic
from dispatch.db import utcnow
from dispatch.editions.demo import seed_newsletter
from dispatch.social.demo import seed_social
from dispatch.staff import accounts
from dispatch.staff.models import StaffUser

DATA = Path(__file__).resolve().parent / "demo_data"
FEEDS = {"blog.xml": "application/rss+xml", "agenda.ics": "text/calendar"}

TOPICS = [
    # slug, French name, English name, hashtag
    ("blog", "Articles du blog", "Blog posts", "#27eRégion"),
    ("events", "Évènements", "Events", "#évènement"),
    ("onaime", "On aime", "We like", "#onaime"),
    ("controverse", "Controverse", "Controversy", "#controverse"),
    ("mustread", "À lire absolument", "Must read", "#mustread"),
]
#: The editorial desk: a controversy pick waits for staff's approval before it goes out.
DESK_POLICIES = {"controverse": "approval"}


#: How long after seeding the demo workshop's day-before reminder falls due.
WORKSHOP_REMINDER_DELAY = timedelta(minutes=4)
_WORKSHOP = """BEGIN:VEVENT
UID:atelier-decouverte-demo@la27eregion.fr
DTSTAMP:{stamp}
DTSTART;TZID=Europe/Paris:{start}
DTEND;TZID=Europe/Paris:{end}
SUMMARY:Atelier découverte : le design des politiques publiques en 90 minutes
DESCRIPTION:Un atelier pour essayer nos méthodes sur un cas réel : un service public\\,
  ses usagers\\, et ce qu’on pourrait changer dès demain.
LOCATION:La 27e Région\\, 5 rue de Charonne\\, 75011 Paris
URL:https://www.la27eregion.fr/agenda/atelier-decouverte/
ORGANIZER;CN=La 27e Région:mailto:agenda@la27eregion.fr
CATEGORIES:Atelier
END:VEVENT
"""


def demo_agenda(seeded_at: datetime) -> bytes:
    """The demo calendar, with the discovery workshop set from when the demo was seeded.

    Always the same bytes for the same seeding time: later polls find nothing changed.
    """
    paris = ZoneInfo("Europe/Paris")
    earliest = (seeded_at + WORKSHOP_REMINDER_DELAY).astimezone(paris)
    due = earliest.replace(second=0, microsecond=0)
    if due < earliest:
        due += timedelta(minutes=1)
    due += timedelta(minutes=-due.minute % 5)  # a workshop starts at 14:05, not 14:03
    start = due + timedelta(days=1)
    workshop = _WORKSHOP.format(
        stamp=f"{seeded_at.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}",
        start=f"{start:%Y%m%dT%H%M%S}",
        end=f"{start + timedelta(minutes=90):%Y%m%dT%H%M%S}",
    ).replace("\n", "\r\n")
    calendar = (DATA / "agenda.ics").read_text(encoding="utf-8").replace("\r\n", "\n")
    calendar = calendar.replace("\n", "\r\n")
    return calendar.replace("END:VCALENDAR", workshop + "END:VCALENDAR").encode("utf-8")


def demo_agenda_seeded_at(session: Session, settings: Settings) -> datetime | None:
    """When the demo agenda source was added (the workshop's reference), if it was."""
    url = feed_url(settings, "agenda.ics")
    return session.scalar(select(Source.created_at).where(Source.url == url, Source.kind == "ical"))


def ensure_topics(session: Session) -> list[Topic]:
    existing = {t.slug: t for t in session.scalars(select(Topic))}
    for position, (slug, fr, en, hashtag) in enumerate(TOPICS):
        if slug not in existing:
            existing[slug] = Topic(
                slug=slug,
                name_fr=fr,
                name_en=en,
                hashtag=hashtag,
                position=position,
                desk_policy=DESK_POLICIES.get(slug, "automatic"),
            )
            session.add(existing[slug])
    session.flush()
    return list(existing.values())


def feed_url(settings: Settings, name: str) -> str:
    return urljoin(settings.app.base_url.rstrip("/") + "/", f"demo/feeds/{name}")


def seed_content(session: Session, settings: Settings) -> None:
    """Demo sources, ingested at once from the bundled files (later polls find them unchanged)."""
    blog = sources.add_source(
        session,
        url=feed_url(settings, "blog.xml"),
        kind="rss",
        topic_slugs=["blog"],
        name="Blog de la 27e Région (démo)",
        announce_existing=True,
    )
    topics.add_rule(session, match="Évènements", topic_slug="events")
    agenda = sources.add_source(
        session,
        url=feed_url(settings, "agenda.ics"),
        kind="ical",
        topic_slugs=["events"],
        name="Agenda de la 27e Région (démo)",
        announce_existing=True,
    )
    parsed = rss.parse_feed((DATA / "blog.xml").read_bytes(), base_url=blog.url)
    ingest.apply_entries(session, blog.id, ingest.Harvest(parsed))
    now = utcnow()
    window = (now - timedelta(days=1), now + timedelta(days=settings.content.ical_window_days))
    events = ical.parse_calendar(
        demo_agenda(agenda.created_at),
        base_url=agenda.url,
        window_start=window[0],
        window_end=window[1],
    )
    ingest.apply_entries(session, agenda.id, ingest.Harvest(events, covered=window))
    for pick in json.loads((DATA / "picks.json").read_text(encoding="utf-8")):
        items.add_pick(session, **pick)


DEMO_OWNER = "equipe@example.org"
LOGIN_FILE = "demo-login.txt"


def seed(session: Session, settings: Settings) -> bool:
    """Seed once; returns False when the demo was already there."""
    if session.scalar(select(Source.id).limit(1)) is not None:
        ensure_topics(session)
        return False
    ensure_topics(session)
    seed_content(session, settings)
    seed_social(session, settings)
    seed_subscribers(session, settings)
    seed_newsletter(session, settings)
    return True


def seed_owner(session: Session, settings: Settings) -> str | None:
    """The demo's owner account, with a random password, when no staff account exists yet.

    Returns the password (shown once by the command) and writes the login to
    `app.data_dir/demo-login.txt` (mode 0600); None when there already is staff.
    """
    if session.scalar(select(StaffUser.id).limit(1)) is not None:
        return None
    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    user = accounts.add_staff(
        session, email=DEMO_OWNER, role="owner", name="Équipe de démonstration", language="fr"
    )
    accounts.set_password(session, settings, user, password)
    url = f"{settings.app.base_url.rstrip('/')}/admin/login"
    path = settings.app.data_dir / LOGIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"{url}\nemail: {DEMO_OWNER}\npassword: {password}\n")
    return password
