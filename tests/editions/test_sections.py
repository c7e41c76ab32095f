"""A staff letter's own sections: titled groups in the staff's order, in the reader's
language, that keep their title when the item opening them was already received and vanish
when all of theirs were."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.editions import drafts
from dispatch.editions.compose import CompiledVariant
from dispatch.editions.service import compile_for_send
from tests import factories


def _parts(variant: CompiledVariant) -> tuple[str, str]:
    html = variant.html.join(dict.fromkeys(variant.html.slots, ""))
    text = variant.text.join(dict.fromkeys(variant.text.slots, ""))
    return html, text


def _order(text: str, *words: str) -> list[int]:
    return [text.index(word) for word in words]


def test_sections_group_the_items_under_their_titles_in_each_language(
    db_session: Session, settings: Settings
) -> None:
    lead = factories.item(db_session, title="Le mot de la semaine")
    post = factories.item(db_session, title="Des communs en mairie")
    pick = factories.item(db_session, title="Un livre", kind="pick", tag="onaime")
    other = factories.item(db_session, title="Une autre lecture", kind="pick", tag="mustread")
    edition = drafts.create_edition(
        db_session,
        subject="La lettre",
        items=[lead, post, pick, other],
        translations={"en": {"subject": "The letter"}},
        headings={
            post.id: {"fr": "À la une : les communs", "en": "Front page"},
            pick.id: {"fr": "À lire", "en": "To read"},
        },
    )
    compiled = compile_for_send(db_session, edition.id, settings)

    html, text = _parts(compiled.for_locale("fr").variant())
    # The staff's order under the staff's titles, not the usual grouping by kind.
    assert "Nos coups de cœur" not in html and "À la une" in html
    found = _order(
        text, "Le mot", "À la une", "Des communs", "À lire\n===", "Un livre", "Une autre"
    )
    assert found == sorted(found)
    assert "À la une\xa0: les communs" in html  # French spacing in a French title

    english, _ = _parts(compiled.for_locale("en").variant())
    assert "Front page" in english and "To read" in english and "À lire" not in english

    # A reader who had the item opening "À lire" still finds the rest of it under its title;
    # one who had both picks gets no empty "À lire".
    rest, _ = _parts(compiled.for_locale("fr").variant(left_out=[pick.id]))
    assert "À lire" in rest and "Une autre lecture" in rest and "Un livre" not in rest
    none, _ = _parts(compiled.for_locale("fr").variant(left_out=[pick.id, other.id]))
    assert "À lire" not in none and "Des communs" in none


def test_a_letter_with_an_english_version_needs_english_titles(db_session: Session) -> None:
    item = factories.item(db_session, title="Un article")
    with pytest.raises(drafts.DraftError, match="no English title"):
        drafts.create_edition(
            db_session,
            subject="La lettre",
            items=[item],
            translations={"en": {"subject": "The letter"}},
            headings={item.id: {"fr": "Agenda"}},
        )
    edition = drafts.create_edition(
        db_session, subject="La lettre", items=[item], headings={item.id: {"fr": "Agenda"}}
    )
    # Adding the English version later asks for the English titles too.
    with pytest.raises(drafts.DraftError, match="no English title"):
        drafts.update_edition(db_session, edition.id, translations={"en": {"subject": "Hi"}})
    drafts.update_edition(
        db_session,
        edition.id,
        translations={"en": {"subject": "Hi"}},
        headings={item.id: {"fr": "Agenda", "en": "Events"}},
    )
    assert edition.items[0].heading == {"fr": "Agenda", "en": "Events"}
    # Changing only the items keeps the titles of the items that stay.
    second = factories.item(db_session, title="Un second")
    drafts.update_edition(db_session, edition.id, item_ids=[second.id, item.id])
    assert [link.heading for link in edition.items] == [None, {"fr": "Agenda", "en": "Events"}]
    with pytest.raises(drafts.DraftError, match="one line of at most 120"):
        drafts.update_edition(
            db_session, edition.id, headings={item.id: {"fr": "x" * 121, "en": "y"}}
        )
