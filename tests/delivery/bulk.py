"""Helpers for the sending tests: committed databases, many subscribers fast, an edition."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch import migrate
from dispatch.audience.models import Preference, Subscriber
from dispatch.config import (
    AppSettings,
    BrokerSettings,
    DatabaseSettings,
    MailSettings,
    SecuritySettings,
    Settings,
    build_settings,
)
from dispatch.db import make_engine, make_sessionmaker, utcnow
from dispatch.delivery.models import Delivery
from dispatch.editions.models import Edition
from tests import factories

_run = itertools.count(1)


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"


def migrated(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    return engine, make_sessionmaker(engine)


def make_settings(
    tmp_path: Path, database_url: str, *, broker_url: str = "", **mail: Any
) -> Settings:
    options: dict[str, Any] = {
        "transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_security": "none",
        "rate_per_second": 100_000,
        "rate_per_hour": 10_000_000,
        "batch_size": 50,
        "lease_seconds": 30,
    }
    options.update(mail)
    return build_settings(
        app=AppSettings(data_dir=tmp_path / "var"),
        database=DatabaseSettings(url=database_url),
        broker=BrokerSettings(url=broker_url),
        mail=MailSettings(**options),
        security=SecuritySettings(secret_key=SecretStr("test-verp-secret")),
    )


def unique_topic() -> str:
    """A topic of its own, so that tests sharing a database reach only their subscribers."""
    return f"t{next(_run)}x{utcnow().strftime('%H%M%S%f')}"


def populate(
    sessions: sessionmaker[Session],
    count: int,
    *,
    topic: str,
    locale: str = "fr",
    status: str = "active",
    prefix: str | None = None,
) -> list[str]:
    """`count` confirmed subscribers following `topic` weekly; returns their addresses."""
    prefix = prefix or topic
    emails = [f"{prefix}-{n}@example.org" for n in range(count)]
    with sessions() as session, session.begin():
        topic_id = factories.topic(session, topic).id
        now = utcnow()
        for start in range(0, count, 5000):
            chunk = emails[start : start + 5000]
            session.execute(
                insert(Subscriber),
                [
                    {
                        "email": email,
                        "name": f"Lectrice {email.split('@')[0]}",
                        "locale": locale,
                        "status": status,
                        "confirmed_at": now,
                        "created_at": now,
                        "soft_bounces": 0,
                        "confirm_nonce": 0,
                    }
                    for email in chunk
                ],
            )
            ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(chunk))).all()
            session.execute(
                insert(Preference),
                [{"subscriber_id": i, "topic_id": topic_id, "frequency": "weekly"} for i in ids],
            )
    return emails


def populate_many(
    sessions: sessionmaker[Session], count: int, *, topic: str, every: int = 1
) -> list[str]:
    """`count` confirmed subscribers written by PostgreSQL itself (a million in seconds);
    one in `every` follows `topic` weekly. Returns the followers' addresses."""
    with sessions() as session, session.begin():
        assert session.get_bind().dialect.name == "postgresql"
        topic_id = factories.topic(session, topic).id
        now = utcnow()
        # One statement that returns the followers itself: a join read back over tables
        # just filled (no statistics yet) once took PostgreSQL minutes with a bad plan.
        followers = session.scalars(
            text(
                "WITH added AS (INSERT INTO subscribers (email, name, locale, status,"
                " confirmed_at, created_at, soft_bounces, confirm_nonce)"
                " SELECT :prefix || '-' || n || '@example.org', 'Lectrice ' || :prefix || '-' || n,"
                " 'fr', 'active', :now, :now, 0, 0 FROM generate_series(0, :count - 1) AS n"
                " RETURNING id, email),"
                " chosen AS (SELECT id, email FROM added"
                " WHERE (id - (SELECT min(id) FROM added)) % :every = 0),"
                " followed AS (INSERT INTO preferences (subscriber_id, topic_id, frequency)"
                " SELECT id, :topic_id, 'weekly' FROM chosen)"
                " SELECT email FROM chosen"
            ),
            {"prefix": topic, "now": now, "count": count, "topic_id": topic_id, "every": every},
        ).all()
        session.execute(text("ANALYZE subscribers, preferences"))
        return list(followers)


def make_edition(
    sessions: sessionmaker[Session], *, topic: str, items: int = 1, **fields: Any
) -> int:
    with sessions() as session, session.begin():
        chosen = [factories.item(session, topics=[topic]) for _ in range(items)]
        edition = factories.edition(session, items=chosen, audience={"topics": [topic]}, **fields)
        return edition.id


def counts(sessions: sessionmaker[Session], edition_id: int) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.edition_id == edition_id)
            .group_by(Delivery.status)
        ).all()
    return dict(rows)


def edition_row(sessions: sessionmaker[Session], edition_id: int) -> Edition:
    with sessions() as session:
        edition = session.get(Edition, edition_id)
        assert edition is not None
        return edition
