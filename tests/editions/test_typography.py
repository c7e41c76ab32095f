"""French typography in French emails: staff text, items, never URLs, code or English."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.editions import drafts
from dispatch.editions.compose import personalise
from dispatch.editions.service import compile_for_send
from dispatch.editions.typography import french_html
from dispatch.editions.views import RecipientView
from tests import factories

NNBSP, NBSP = "\u202f", "\u00a0"


def test_french_emails_set_french_spacing_and_english_ones_do_not(
    db_session: Session, settings: Settings
) -> None:
    post = factories.item(
        db_session,
        title="Évaluer : pourquoi ? «Déplier» !",
        excerpt="Lire la suite ; voir https://www.example.org/?p=1&q=a:b",
        summary_html="<p>Lire la suite ; voir https://www.example.org/?p=1</p>",
    )
    edition = drafts.create_edition(
        db_session,
        subject="La lettre : « automne » ?",
        intro="Bonjour ! Un mot : [le lien](https://www.example.org/a?b=c).",
        items=[post],
        translations={"en": {"subject": "The letter: what now?", "intro": "Hello! Read this."}},
    )
    compilation = compile_for_send(db_session, edition.id, settings)
    reader = RecipientView(email="ada@example.org", locale="fr")
    french = personalise(compilation.for_locale("fr"), reader)
    assert french.subject == f"La lettre{NBSP}: «{NNBSP}automne{NNBSP}»{NNBSP}?"
    for part in (french.html, french.text):
        assert f"Bonjour{NNBSP}! Un mot{NBSP}:" in part
        assert f"Évaluer{NBSP}: pourquoi{NNBSP}? «{NNBSP}Déplier{NNBSP}»{NNBSP}!" in part
        assert f"Lire la suite{NNBSP}; voir https://www.example.org/?p=1" in part
    assert 'href="https://www.example.org/a?b=c"' in french.html

    english = personalise(compilation.for_locale("en"), reader)
    assert english.subject == "The letter: what now?"
    assert "Hello! Read this." in english.text and NNBSP not in english.subject


def test_french_html_touches_text_only() -> None:
    html = '<p title="a : b">Quoi ? <a href="https://x.example/?a=1">ici !</a></p><pre>x ? y</pre>'
    assert french_html(html) == (
        f'<p title="a : b">Quoi{NNBSP}? <a href="https://x.example/?a=1">ici{NNBSP}!</a></p>'
        "<pre>x ? y</pre>"
    )
