"""Topics (blog, events, #onaime…) and the rules that map upstream categories to them."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch import audit
from dispatch.content.errors import ContentError
from dispatch.content.models import Topic, TopicRule
from dispatch.content.uses import references


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


def get_topic(session: Session, topic_id: int) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise ContentError(f"there is no topic {topic_id}")
    return topic


def update_topic(
    session: Session,
    topic_id: int,
    *,
    name_fr: str,
    name_en: str,
    hashtag: str | None = None,
    position: int | None = None,
) -> Topic:
    """Rename a topic, change its hashtag or its place in the lists (the slug stays: links
    and rules name it)."""
    topic = get_topic(session, topic_id)
    if not name_fr.strip() or not name_en.strip():
        raise ContentError("a topic needs a French and an English name")
    before = _topic_fields(topic)
    topic.name_fr = name_fr.strip()[:200]
    topic.name_en = name_en.strip()[:200]
    topic.hashtag = (hashtag or "").strip()[:100] or f"#{topic.slug}"
    if position is not None:
        topic.position = position
    session.flush()
    after = _topic_fields(topic)
    if after != before:
        audit.record(
            session,
            "topic.changed",
            object_type="topic",
            object_id=topic.id,
            summary={"slug": topic.slug, "before": before, "after": after},
        )
    return topic


def _topic_fields(topic: Topic) -> dict[str, object]:
    return {
        "name_fr": topic.name_fr,
        "name_en": topic.name_en,
        "hashtag": topic.hashtag,
        "position": topic.position,
    }


class TopicInUseError(ContentError):
    """A topic something still refers to; `uses` says what ({table name: rows})."""

    def __init__(self, topic: Topic, uses: dict[str, int]) -> None:
        self.uses = uses
        named = ", ".join(f"{table}: {count}" for table, count in sorted(uses.items()))
        super().__init__(f"topic {topic.slug!r} is still in use ({named})")


def topic_uses(session: Session, topic_id: int) -> dict[str, int]:
    """What refers to a topic: followers (preferences), items, sources, rules, accounts…"""
    return references(session, "topics", topic_id)


def remove_topic(session: Session, topic_id: int) -> None:
    """Delete a topic that nothing refers to; TopicInUseError otherwise (deleting would drop
    subscribers' choices or items' topics without anyone deciding it)."""
    topic = get_topic(session, topic_id)
    uses = topic_uses(session, topic_id)
    if uses:
        raise TopicInUseError(topic, uses)
    slug = topic.slug
    session.delete(topic)
    session.flush()
    audit.record(
        session, "topic.removed", object_type="topic", object_id=topic_id, summary={"slug": slug}
    )


def remove_rule(session: Session, rule_id: int) -> None:
    """Stop mapping a category to a topic; items already mapped keep their topics."""
    rule = session.get(TopicRule, rule_id)
    if rule is None:
        raise ContentError(f"there is no rule {rule_id}")
    summary = {"match": rule.match, "source_id": rule.source_id}
    topic_id = rule.topic_id
    session.delete(rule)
    session.flush()
    audit.record(
        session, "topic.rule_removed", object_type="topic", object_id=topic_id, summary=summary
    )
