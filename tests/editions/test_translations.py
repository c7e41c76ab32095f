"""An edition in two languages: each reader gets one language throughout, never half and half."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.editions import drafts
from dispatch.editions.compose import RenderedMessage, personalise
from dispatch.editions.service import SendCompilation, compile_for_send
from dispatch.editions.views import RecipientView
from tests import factories

ENGLISH = {
    "en": {
        "subject": "The November letter",
        "preheader": "Public innovation, unfolded",
        "intro": "Hello everyone, here is **our news**.",
    }
}


def _letter(session: Session, translations: dict[str, dict[str, str]] | None) -> int:
    post = factories.item(session, title="Dépliez l’évaluation")
    edition = drafts.create_edition(
        session,
        subject="La lettre de novembre",
        preheader="L’innovation publique, dépliée",
        intro="Bonjour à toutes et à tous, voici **nos nouvelles**.",
        items=[post],
        translations=translations,
    )
    return edition.id


def _read(compilation: SendCompilation, locale: str, name: str = "Ada") -> RenderedMessage:
    reader = RecipientView(
        email="ada@example.org",
        name=name,
        locale=locale,
        unsubscribe_url="https://dispatch.example/unsubscribe/x",
        preferences_url="https://dispatch.example/preferences/x",
    )
    return personalise(compilation.for_locale(locale), reader)


def test_a_translated_letter_reaches_each_reader_in_their_own_language(
    db_session: Session, settings: Settings
) -> None:
    compilation = compile_for_send(db_session, _letter(db_session, ENGLISH), settings)
    english, french = _read(compilation, "en"), _read(compilation, "fr")

    assert english.subject == "The November letter"
    assert english.locale == "en"
    assert '<html lang="en"' in english.html
    for part in (english.html, english.text):
        assert "Hello Ada," in part
        assert "Hello everyone" in part and "Bonjour à toutes" not in part
        assert "Highlights" in part and "À la une" not in part
        assert "Unsubscribe" in part and "Se désabonner" not in part
    assert "Public innovation, unfolded" in english.html  # the preheader

    assert french.subject == "La lettre de novembre"
    assert '<html lang="fr"' in french.html
    for part in (french.html, french.text):
        assert "Bonjour Ada," in part
        assert "Bonjour à toutes" in part and "Hello everyone" not in part
        assert "À la une" in part and "Highlights" not in part
        assert "Se désabonner" in part


def test_without_a_translation_english_readers_get_the_whole_french_letter(
    db_session: Session, settings: Settings
) -> None:
    compilation = compile_for_send(db_session, _letter(db_session, None), settings)
    # Compiled once: both languages read the very same email.
    assert compilation.for_locale("en") is compilation.for_locale("fr")
    english = _read(compilation, "en")
    assert english.subject == "La lettre de novembre"
    assert english.locale == "fr"
    assert '<html lang="fr"' in english.html
    for part in (english.html, english.text):
        assert "Bonjour Ada," in part and "Hello" not in part
        assert "À la une" in part and "Highlights" not in part
        assert "Se désabonner" in part and "Unsubscribe" not in part


def test_a_letter_fixed_to_one_language_has_no_other_version(db_session: Session) -> None:
    # A fixed language means "only its readers": a translation would reach nobody.
    with pytest.raises(drafts.DraftError, match="sent only to readers in English"):
        drafts.create_edition(
            db_session,
            subject="Our letter",
            items=[factories.item(db_session)],
            locale="en",
            translations={"fr": {"subject": "Notre lettre"}},
        )


def test_editions_without_staff_text_speak_every_language(
    db_session: Session, settings: Settings
) -> None:
    post = factories.item(db_session, title="Un billet")
    alert = factories.edition(
        db_session, kind="alert", template="alert", subject="", intro="", items=[post]
    )
    compilation = compile_for_send(db_session, alert.id, settings)
    assert _read(compilation, "en").locale == "en"
    assert "Unsubscribe" in _read(compilation, "en").text
    assert "Se désabonner" in _read(compilation, "fr").text


def test_translations_are_checked_and_edited_field_by_field(db_session: Session) -> None:
    edition_id = _letter(db_session, ENGLISH)
    with pytest.raises(drafts.DraftError, match="English version has no subject"):
        drafts.update_edition(db_session, edition_id, translations={"en": {"subject": ""}})
    with pytest.raises(drafts.DraftError, match="main language"):
        drafts.update_edition(db_session, edition_id, translations={"fr": {"subject": "x"}})
    with pytest.raises(drafts.DraftError, match="Unknown language"):
        drafts.update_edition(db_session, edition_id, translations={"de": {"subject": "x"}})

    edited = drafts.update_edition(
        db_session, edition_id, translations={"en": {"intro": "A new intro."}}
    )
    assert edited.translations["en"] == {
        "subject": "The November letter",
        "preheader": "Public innovation, unfolded",
        "intro": "A new intro.",
    }
    assert drafts.edition_as_dict(edited)["translations"]["en"]["intro"] == "A new intro."
    removed = drafts.update_edition(db_session, edition_id, translations={"en": None})
    assert removed.translations == {}


def test_an_edit_of_the_translation_is_what_goes_out(
    db_session: Session, settings: Settings
) -> None:
    edition_id = _letter(db_session, ENGLISH)
    drafts.update_edition(db_session, edition_id, translations={"en": {"subject": "Changed"}})
    compilation = compile_for_send(db_session, edition_id, settings)
    assert _read(compilation, "en").subject == "Changed"
    assert _read(compilation, "fr").subject == "La lettre de novembre"
