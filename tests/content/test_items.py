"""Curated picks: an image needs its text alternative; a pick that went out is withdrawn,
one that did not is deleted."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dispatch.content import items
from dispatch.content.errors import ContentError
from dispatch.content.models import ContentItem
from tests import factories


def _pick(session: Session, url: str, *, image_url: str = "", image_alt: str = "") -> ContentItem:
    factories.topic(session, "onaime")
    factories.topic(session, "mustread")
    return items.add_pick(
        session, url=url, title="Un podcast", tag="onaime", image_url=image_url, image_alt=image_alt
    )


def test_an_image_needs_its_text_alternative(db_session: Session) -> None:
    with pytest.raises(ContentError, match="text alternative"):
        _pick(db_session, "https://example.org/a", image_url="https://example.org/a.jpg")
    pick = _pick(
        db_session,
        "https://example.org/b",
        image_url="https://example.org/b.jpg",
        image_alt="Un micro",
    )
    assert (pick.image_url, pick.image_alt) == ("https://example.org/b.jpg", "Un micro")
    changed = items.update_pick(
        db_session, pick.id, title="Un autre titre", tag="mustread", comment="À écouter"
    )
    assert changed.image_url is None and changed.tag == "mustread"
    assert [t.slug for t in changed.topics] == ["mustread"] and changed.excerpt == "À écouter"


def test_a_pick_that_went_out_is_withdrawn_else_deleted(db_session: Session) -> None:
    kept = _pick(db_session, "https://example.org/sent")
    factories.edition(db_session, kind="alert", items=[kept])
    assert items.delete_pick(db_session, kept.id) == "withdrawn"
    assert db_session.get(ContentItem, kept.id) is not None and kept.status == "unpublished"
    gone = _pick(db_session, "https://example.org/never-sent")
    gone_id = gone.id
    assert items.delete_pick(db_session, gone_id) == "deleted"
    db_session.expire_all()
    assert db_session.get(ContentItem, gone_id) is None
    post = factories.item(db_session)
    with pytest.raises(ContentError):
        items.delete_pick(db_session, post.id)  # only picks are deleted here
