"""The schema: migrations and models agree, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import migrate
from dispatch.content.models import ContentItem
from dispatch.models import Base
from tests import factories


def test_migrations_match_the_models(db_engine: Engine) -> None:
    migrate.check(db_engine)  # raises when autogenerate would find a difference
    tables = set(inspect(db_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_datetimes_come_back_aware_in_utc(db_session: Session) -> None:
    when = datetime(2024, 7, 17, 9, 30, tzinfo=UTC)
    row = factories.item(db_session, published_at=when)
    db_session.expire_all()
    loaded = db_session.get(ContentItem, row.id)
    assert loaded is not None
    assert loaded.published_at == when
    assert loaded.published_at.tzinfo is not None


def test_an_item_is_unique_per_source_and_guid(db_session: Session) -> None:
    first = factories.item(db_session, guid="https://www.la27eregion.fr/?p=1")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        factories.item(db_session, guid="https://www.la27eregion.fr/?p=1", source=first.source)
    count = db_session.scalars(
        select(ContentItem).where(ContentItem.guid == "https://www.la27eregion.fr/?p=1")
    ).all()
    assert len(count) == 1


def _fill(table: Any, **given: Any) -> dict[str, Any]:
    """A row for `table` as the database has it: `given`, and a plain value for every other
    column that must have one."""
    from sqlalchemy import Boolean, DateTime, Integer, String, Text

    row = dict(given)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and isinstance(column.type, Integer):
            continue
        kind = column.type
        if isinstance(kind, Boolean):
            row[column.name] = False
        elif isinstance(kind, Integer):
            row[column.name] = 0
        elif isinstance(kind, DateTime):
            row[column.name] = datetime(2026, 11, 1, tzinfo=UTC)
        elif isinstance(kind, String | Text):
            row[column.name] = f"{column.name}-{len(row)}"
        else:
            row[column.name] = "{}"
    return row


def test_upgrading_a_used_sqlite_database_keeps_every_row_and_never_reuses_an_id(
    tmp_path: Path,
) -> None:
    """An embedded install migrated from the previous release: tables that SQLite must copy
    to alter (subscribers, sources) keep the rows that refer to them, and an erased reader's
    id is never given to someone new (signed links carry it)."""
    from sqlalchemy import MetaData, func, insert, text

    from dispatch.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0005")
    old = MetaData()
    old.reflect(engine)
    t = old.tables
    with engine.begin() as conn:
        topic = conn.execute(insert(t["topics"]).values(_fill(t["topics"], slug="blog"))).lastrowid
        source = conn.execute(
            insert(t["sources"]).values(_fill(t["sources"], kind="rss", url="https://x.fr/feed"))
        ).lastrowid
        conn.execute(
            insert(t["content_items"]).values(
                _fill(t["content_items"], source_id=source, guid="p1", kind="post")
            )
        )
        people = [
            conn.execute(
                insert(t["subscribers"]).values(
                    _fill(t["subscribers"], email=f"r{n}@example.org", status="active")
                )
            ).lastrowid
            for n in range(3)
        ]
        for person in people:
            conn.execute(
                insert(t["preferences"]).values(
                    _fill(t["preferences"], subscriber_id=person, topic_id=topic)
                )
            )
            conn.execute(
                insert(t["consent_events"]).values(_fill(t["consent_events"], subscriber_id=person))
            )

    migrate.upgrade(engine)

    def count(name: str) -> int:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(text(name))) or 0)

    assert (count("preferences"), count("consent_events"), count("content_items")) == (3, 3, 1)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM subscribers WHERE id = :id"), {"id": people[-1]})
        new = conn.execute(
            insert(t["subscribers"]).values(
                _fill(t["subscribers"], email="new@example.org", status="pending")
            )
        ).lastrowid
    assert new > people[-1]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # back on
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrading_gives_every_item_its_source_and_lets_a_new_source_join_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An install that had a site's RSS feed: after 0007 each item maps to its feed's entry
    (topics kept), and the site's REST API added afterwards joins the posts it already has."""
    from sqlalchemy import MetaData, insert

    from dispatch.content import ingest, sources
    from dispatch.content.entries import ParsedEntry, ParseResult
    from dispatch.content.models import ItemSource
    from dispatch.db import make_engine, make_sessionmaker

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        from tests import servers

        url = servers.create_database(
            request.getfixturevalue("postgres_server"), "dispatch_upgrade_sources"
        )
    engine = make_engine(url)
    migrate.upgrade(engine, "0006")
    old = MetaData()
    old.reflect(engine)
    t = old.tables
    with engine.begin() as conn:
        topic = conn.execute(
            insert(t["topics"]).values(_fill(t["topics"], slug="blog"))
        ).inserted_primary_key[0]
        feed = conn.execute(
            insert(t["sources"]).values(
                _fill(t["sources"], kind="rss", url="https://www.la27eregion.fr/feed/")
            )
        ).inserted_primary_key[0]
        post = conn.execute(
            insert(t["content_items"]).values(
                _fill(
                    t["content_items"],
                    source_id=feed,
                    guid="https://www.la27eregion.fr/?p=18342",
                    kind="post",
                    url="https://www.la27eregion.fr/depliait-levaluation/",
                    status="published",
                    published_at=datetime(2024, 7, 17, 8, 12, tzinfo=UTC),
                )
            )
        ).inserted_primary_key[0]
        event = conn.execute(
            insert(t["content_items"]).values(
                _fill(t["content_items"], source_id=feed, guid="uid-1", kind="event")
            )
        ).inserted_primary_key[0]
        conn.execute(insert(t["item_topics"]).values(item_id=post, topic_id=topic))

    migrate.upgrade(engine)

    sessions = make_sessionmaker(engine)
    with sessions() as session:
        rows = {row.item_id: row for row in session.scalars(select(ItemSource))}
        assert set(rows) == {post, event}
        assert (rows[post].source_id, rows[post].guid) == (
            feed,
            "https://www.la27eregion.fr/?p=18342",
        )
        assert rows[post].topic_ids == [topic] and rows[post].status == "published"
        item = session.get(ContentItem, post)
        assert item is not None
        assert (item.site, item.wp_post_id) == ("www.la27eregion.fr", 18342)
        assert item.canonical_key
        later = session.get(ContentItem, event)
        assert later is not None and later.site is None and later.canonical_key is None

        api_id = sources.add_source(
            session, url="https://www.la27eregion.fr/", kind="wordpress", topic_slugs=["blog"]
        ).id
        entry = ParsedEntry(
            guid="https://www.la27eregion.fr/?p=18342",
            kind="post",
            title="Innovation publique",
            url="https://www.la27eregion.fr/depliait-levaluation/",
            post_id=18342,
        )
        report = ingest.apply_entries(
            session, api_id, ingest.Harvest(ParseResult([entry]), detect_vanished=False)
        )
        session.commit()
        assert report.merged == [post] and not report.new
    engine.dispose()
