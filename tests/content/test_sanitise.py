"""Sanitised summaries, plain text, excerpts and titles with French typography."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.content.sanitise import (
    clean_html,
    clean_title,
    drop_wordpress_more,
    excerpt,
    plain_text,
)


def test_the_allowlist_keeps_structure_and_drops_the_rest() -> None:
    html = (
        '<h2 class="x">Le programme</h2><p style="color:red">Un <em>atelier</em> '
        "<strong>ouvert</strong><br><span>à toutes et tous</span></p>"
        "<ul><li>Paris</li><li>Marseille</li></ul><blockquote>Une citation</blockquote>"
        '<table><tr><td>cellule</td></tr></table><img src="https://x.example/a.png" alt="a">'
    )

    assert clean_html(html) == (
        "<h2>Le programme</h2><p>Un <em>atelier</em> <strong>ouvert</strong><br>à toutes et "
        "tous</p><ul><li>Paris</li><li>Marseille</li></ul><blockquote>Une citation</blockquote>"
        "cellule"
    )


def test_links_are_absolute_http_https_or_mailto_and_open_safely() -> None:
    html = (
        '<a href="/agenda/">agenda</a> <a href="mailto:contact@la27eregion.fr">écrire</a> '
        '<a href="javascript:alert(1)">piège</a> <a href="vbscript:x">vb</a> '
        '<a href="ftp://x.example/">ftp</a>'
    )

    cleaned = clean_html(html, base_url="https://www.la27eregion.fr/blog/billet/")

    assert cleaned == (
        '<a href="https://www.la27eregion.fr/agenda/" rel="noopener noreferrer">agenda</a> '
        '<a href="mailto:contact@la27eregion.fr" rel="noopener noreferrer">écrire</a> '
        '<a rel="noopener noreferrer">piège</a> <a rel="noopener noreferrer">vb</a> '
        '<a rel="noopener noreferrer">ftp</a>'
    )


def test_empty_paragraphs_left_by_dropped_images_go_too() -> None:
    assert clean_html('<p>Texte</p><p><img src="x.png"></p>') == "<p>Texte</p>"


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("L&#8217;évaluation, «&nbsp;dépliée&nbsp;»", "L’évaluation, «\u00a0dépliée\u00a0»"),
        ("&laquo;&#8239;Faire&#8239;&raquo; ?", "«\u202fFaire\u202f» ?"),
        ("  Un   titre\n sur\tdeux lignes ", "Un titre sur deux lignes"),
        ("<b>Gras</b> &amp; <i>italique</i>", "Gras & italique"),
        ("<script>alert(1)</script>Titre<style>p{}</style>", "Titre"),
        ("Qui décide&#160;?", "Qui décide\u00a0?"),
    ],
)
def test_titles_keep_french_typography(raw: str, title: str) -> None:
    assert clean_title(raw) == title


def test_plain_text_separates_blocks_and_decodes_entities() -> None:
    assert plain_text("<p>Un&nbsp;:</p><p>deux &amp; trois</p>") == "Un\u00a0: deux & trois"


def test_an_excerpt_is_cut_at_a_word_and_marked() -> None:
    text = "La transformation publique se fait avec les agents et les habitants. " * 10

    cut = excerpt(text, 100)

    assert len(cut) <= 100
    assert cut.endswith("…")
    assert text.startswith(cut[:-1])
    assert text[len(cut) - 1] in " ,."  # the cut fell between two words


def test_a_short_text_is_not_cut() -> None:
    assert excerpt("Un texte court.", 300) == "Un texte court."


def test_an_excerpt_never_splits_a_non_breaking_space_from_its_word() -> None:
    text = "mot " * 20 + "«\u00a0dépliait\u00a0» " + "fin " * 20

    cut = excerpt(text, 90)

    assert not cut.endswith("\u00a0…")
    assert "«…" not in cut


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>Et à ce titre nous avons&nbsp;[&hellip;]</p>", "<p>Et à ce titre nous avons…</p>"),
        ("nous avons [&#8230;]", "nous avons…"),
        ("nous avons […]", "nous avons…"),
        ("nous avons [...]", "nous avons…"),
        ("Qui décide ? [...]", "Qui décide ?"),
        ("Un [...] au milieu reste", "Un [...] au milieu reste"),
    ],
)
def test_the_wordpress_more_marker(html: str, expected: str) -> None:
    assert drop_wordpress_more(html) == expected


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


_PIECES = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<style>*{}</style>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" java\tscript:alert(1)">x</a>',
        '<a href="JaVaScRiPt&#58;alert(1)">x</a>',
        "<a href=javascript&colon;alert(1)>x</a>",
        '<img src=x onerror="alert(1)">',
        '<p onclick="x()" onmouseover=y>',
        "<svg/onload=alert(1)>",
        "<iframe src=//evil.example>",
        "<!--<script>-->",
        "<scr<script>ipt>",
        '<a href="data:text/html,<script>">d</a>',
        "<p>",
        "</p>",
        "«\u00a0texte\u00a0»",
        "&lt;script&gt;",
        "<",
        ">",
        '"',
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=12).map("".join))
def test_no_script_no_handler_no_javascript_link_survives(html: str) -> None:
    cleaned = clean_html(html, base_url="https://www.la27eregion.fr/")

    inspector = _Inspector()
    inspector.feed(cleaned)
    inspector.close()
    assert "<script" not in cleaned.lower()
    assert not {"script", "style", "iframe", "svg", "img"} & set(inspector.tags)
    for name, value in inspector.attributes:
        assert not name.lower().startswith("on")
        if name == "href":
            assert value.split(":", 1)[0].lower() in {"http", "https", "mailto"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=10, max_value=300))
def test_an_excerpt_is_never_longer_than_its_limit(text: str, limit: int) -> None:
    assert len(excerpt(text, limit)) <= limit
