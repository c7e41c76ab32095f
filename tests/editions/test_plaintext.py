"""The plain-text part: the intro reads as written, links keep their address, lists stay lists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.editions import drafts
from dispatch.editions.compose import personalise
from dispatch.editions.plaintext import html_to_text
from dispatch.editions.service import compile_for_send
from dispatch.editions.views import RecipientView
from tests import factories

INTRO = """Chères lectrices, chers lecteurs,
cette lettre revient sur [notre atelier](https://www.example.org/atelier/)
et sur le rapport publié en ligne, <https://www.example.org/rapport.pdf>.

Au programme :

- une enquête [en trois parties](https://www.example.org/enquete/) sur les achats publics
  et ce qu'ils changent pour les agents ;
- un entretien.

Et pour finir :

1. D'abord lire.
2. Ensuite écrire à <bonjour@example.org>.

"""
INTRO += "Bonne lecture,  \nL'équipe"  # two spaces: a Markdown hard break


def _text(db_session: Session, settings: Settings) -> str:
    edition = drafts.create_edition(
        db_session, subject="La lettre", intro=INTRO, items=[factories.item(db_session)]
    )
    compiled = compile_for_send(db_session, edition.id, settings).for_locale("fr")
    return personalise(compiled, RecipientView(email="ada@example.org", locale="fr")).text


def test_the_intro_in_plain_text_keeps_paragraphs_links_and_lists(
    db_session: Session, settings: Settings
) -> None:
    text = _text(db_session, settings)
    # One paragraph, not broken where the Markdown source was wrapped; links keep their URL.
    assert (
        "Chères lectrices, chers lecteurs, cette lettre revient sur notre atelier\n"
        "<https://www.example.org/atelier/> et sur le rapport publié en ligne,\n"
        "https://www.example.org/rapport.pdf.\n\n"
    ) in text
    assert "\n- une enquête en trois parties <https://www.example.org/enquete/> sur\n" in text
    assert (
        "\n  les achats publics et ce qu'ils changent pour les agents\u202f;\n- un entretien."
        in text
    )
    assert "\n1. D'abord lire.\n2. Ensuite écrire à bonjour@example.org.\n" in text
    assert "Bonne lecture,\nL'équipe" in text  # a Markdown hard break stays a line break
    assert all(len(line) <= 72 or "://" in line for line in text.splitlines())


def test_html_to_text_writes_a_link_after_its_text_and_nothing_for_an_unsafe_one() -> None:
    html = (
        '<p>Voir <a href="https://a.example/x">le site</a>, '
        '<a href="javascript:alert(1)">ceci</a> et <a href="https://b.example/">https://b.example/</a>.</p>'
        "<ul><li>un<ul><li>sous-point</li></ul></li><li>deux</li></ul>"
    )
    assert html_to_text(html) == (
        "Voir le site <https://a.example/x>, ceci et https://b.example/.\n\n"
        "- un\n  - sous-point\n- deux"
    )
    assert html_to_text("<pre>x  = 1\ny  = 2</pre>") == "x  = 1\ny  = 2"  # as typed
