"""Topics (blog, events, #onaime…) and the rules that map upstream categories to them."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.content.errors import ContentError
from dispatch.content.models import Topic, TopicRule


def list_topics(session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.position, Topic.slug)))


def add_topic(
    session: Session, slug: str, *, name_fr: str, name_en: str, hashtag: str | None = None
) -> Topic:
    slug = slug.strip().lower()
    if not slug or not slug.replace("-", "").replace("_", "").isalnum():
        raise ContentError(f"invalid topic slug {slug!r}: use letters, digits, - or _")
    if session.scalar(select(Topic).where(Topic.slug == slug)) is not None:
        raise ContentError(f"topic {slug!r} already exists")
    position = (session.scalar(select(func.max(Topic.position))) or 0) + 1
    topic = Topic(
        slug=slug,
        name_fr=name_fr,
        name_en=name_en,
        hashtag=hashtag or f"#{slug}",
        position=position,
    )
    session.add(topic)
    session.flush()
    audit.record(
        session, "topic.added", object_type="topic", object_id=topic.id, summary={"slug": slug}
    )
    return topic


def topics_by_slug(session: Session, slugs: Iterable[str]) -> list[Topic]:
    wanted = [s.strip().lower().lstrip("#") for s in slugs if s.strip()]
    found = {t.slug: t for t in session.scalars(select(Topic).where(Topic.slug.in_(wanted)))}
    missing = [s for s in wanted if s not in found]
    if missing:
        known = ", ".join(t.slug for t in list_topics(session)) or "none yet"
        raise ContentError(f"unknown topic(s): {', '.join(missing)} (known: {known})")
    return [found[s] for s in dict.fromkeys(wanted)]


def fold(text: str) -> str:
    """Case- and accent-insensitive form, so "Évènements" matches "evenements"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def add_rule(
    session: Session, *, match: str, topic_slug: str, source_id: int | None = None
) -> TopicRule:
    (topic,) = topics_by_slug(session, [topic_slug])
    rule = TopicRule(source_id=source_id, match=fold(match), topic_id=topic.id)
    session.add(rule)
    session.flush()
    audit.record(
        session,
        "topic.rule_added",
        object_type="topic",
        object_id=topic.id,
        summary={"match": match, "source_id": source_id},
    )
    return rule
