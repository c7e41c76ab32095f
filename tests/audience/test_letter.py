"""The staff letter is a reader's choice like the topics: a newsletter leaves out readers
who said no to it, and their topics still reach them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.delivery import snapshot
from dispatch.delivery.models import Delivery
from tests import factories


def recipients(session: Session, settings: Settings, edition_id: int) -> set[int]:
    snapshot.start_edition(session, edition_id, settings=settings)
    rows = session.scalars(select(Delivery.subscriber_id).where(Delivery.edition_id == edition_id))
    return set(rows)


def test_a_newsletter_goes_only_to_readers_who_chose_the_letter(
    db_session: Session, settings: Settings
) -> None:
    wants_it = factories.subscriber(db_session, topics={"blog": "immediately"})
    topics_only = factories.subscriber(db_session, topics={"blog": "immediately"}, letter=False)
    item = factories.item(db_session)
    letter = factories.edition(db_session, items=[item], status="draft")
    alert = factories.edition(
        db_session,
        items=[item],
        kind="alert",
        status="draft",
        audience={"topics": ["blog"], "frequency": "immediately"},
    )
    assert recipients(db_session, settings, letter.id) == {wants_it.id}
    assert recipients(db_session, settings, alert.id) == {wants_it.id, topics_only.id}
