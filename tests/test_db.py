"""The schema: migrations and models agree, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

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
