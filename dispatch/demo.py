"""The demo: what `make run` shows a newcomer, written in the voice of La 27e Région."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.content.models import Topic

TOPICS = [
    # slug, French name, English name, hashtag
    ("blog", "Articles du blog", "Blog posts", "#27eRégion"),
    ("events", "Évènements", "Events", "#évènement"),
    ("onaime", "On aime", "We like", "#onaime"),
    ("controverse", "Controverse", "Controversy", "#controverse"),
    ("mustread", "À lire absolument", "Must read", "#mustread"),
]


def ensure_topics(session: Session) -> list[Topic]:
    existing = {t.slug: t for t in session.scalars(select(Topic))}
    for position, (slug, fr, en, hashtag) in enumerate(TOPICS):
        if slug not in existing:
            existing[slug] = Topic(
                slug=slug, name_fr=fr, name_en=en, hashtag=hashtag, position=position
            )
            session.add(existing[slug])
    session.flush()
    return list(existing.values())


def seed(session: Session, settings: Settings) -> bool:
    """Seed once; returns False when the demo was already there."""
    already = session.scalar(select(Topic.id).limit(1)) is not None
    ensure_topics(session)
    return not already
