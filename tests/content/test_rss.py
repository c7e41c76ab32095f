"""RSS 2.0 and Atom feeds, as WordPress and others write them, and as attackers do."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dispatch.content.entries import ParseError
from dispatch.content.rss import parse_feed
from tests.content.feed_server import fixture_bytes

FEED_URL = "https://www.la27eregion.fr/feed/"
SECRET = "SECRET-la27e-7f3a9c"


def test_wordpress_rss2_gives_posts_with_everything_a_reader_sees() -> None:
    result = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=FEED_URL)

    assert result.skipped == []
    assert [entry.guid for entry in result.entries] == [
        "https://www.la27eregion.fr/?p=18342",
        "https://www.la27eregion.fr/?p=18201",
        "https://www.la27eregion.fr/?p=18110",
    ]
    post = result.entries[0]
    assert post.kind == "post"
    assert (
        post.title
        == "Innovation publique\u00a0: et si on «\u00a0dépliait\u00a0» l’évaluation\u00a0?"
    )
    assert (
        post.url == "https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/"
    )
    assert post.author == "Claire Moreau"
    assert post.categories == ("Blog", "Évaluation", "Transformation publique")
    assert post.published_at == datetime(2024, 7, 17, 8, 12, 40, tzinfo=UTC)
    assert post.image_url == "https://www.la27eregion.fr/wp-content/uploads/2024/07/depliage.jpg"
    # media:content carries no alt text; the same picture in the content does.
    assert post.image_alt == "Un carnet déplié sur une table d’atelier"
    assert post.status == "published"


def test_the_wordpress_more_marker_becomes_an_ellipsis() -> None:
    entries = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=FEED_URL).entries

    for entry in entries:
        for marker in ("[…]", "[&#8230;]", "[...]", "&#8230;]"):
            assert marker not in entry.summary_html
            assert marker not in entry.excerpt
    assert entries[1].summary_html.endswith("autant dire…")
    # A question mark already ends the sentence: no ellipsis is glued to it.
    assert entries[2].excerpt.endswith("d’inégalités\u00a0?")


def test_the_excerpt_is_cut_at_a_word_boundary() -> None:
    post = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=FEED_URL).entries[0]

    assert len(post.excerpt) <= 300
    assert post.excerpt.endswith("à ce…")
    assert post.excerpt[:-1] in post.summary_html


@pytest.mark.parametrize(
    ("index", "image"),
    [
        (1, "https://www.la27eregion.fr/wp-content/uploads/2024/06/ag-2024.jpg"),  # enclosure
        (2, "https://www.la27eregion.fr/wp-content/uploads/2024/06/chantier.png"),  # first <img>
    ],
)
def test_the_featured_image_comes_from_enclosure_or_content(index: int, image: str) -> None:
    entry = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=FEED_URL).entries[index]

    assert entry.image_url == image


def test_an_atom_feed_of_picks() -> None:
    result = parse_feed(
        fixture_bytes("whats-up-atom.xml"),
        base_url="https://www.la27eregion.fr/whats-up/atom.xml",
        kind="pick",
    )

    first, second = result.entries
    assert first.kind == "pick"
    assert first.title == "Le guide «\u00a0Design des politiques publiques\u00a0» enfin réédité"
    assert first.categories == ("onaime", "mustread")
    assert first.published_at == datetime(2024, 7, 12, 8, 0, tzinfo=UTC)
    assert (
        first.image_url
        == "https://www.la27eregion.fr/wp-content/uploads/2024/07/guide-couverture.png"
    )
    # A relative link in the summary is made absolute: the email is read far from the site.
    assert 'href="https://www.la27eregion.fr/ressources/design-politiques-publiques/"' in (
        first.summary_html
    )
    assert second.title == "L’IA dans les services publics : qui décide ?"
    assert second.updated_at == datetime(2024, 7, 8, 16, 45, tzinfo=UTC)
    assert "<strong>bouscule</strong>" in second.summary_html
    assert "<img" not in second.summary_html
    assert second.image_url == "https://www.la27eregion.fr/wp-content/uploads/2024/07/guichet.jpg"
    assert second.image_alt == "Un guichet de mairie"


def test_a_malformed_entry_is_skipped_with_its_reason_and_the_others_come_in() -> None:
    result = parse_feed(fixture_bytes("partly-broken-rss.xml"), base_url=FEED_URL)

    assert [entry.title for entry in result.entries] == [
        "Les labs publics, dix ans après",
        "Résidence «\u00a0Transfo\u00a0» en Occitanie",
    ]
    assert dict(result.skipped) == {
        "draft-42": "no http(s) link",
        "javascript:alert(1)": "link is not an http(s) URL: javascript:alert(1)",
        "https://www.la27eregion.fr/sans-titre/": "no title and no summary",
    }
    # An unreadable date does not lose the entry, only its date.
    assert result.entries[1].published_at is None


def test_script_style_and_event_handlers_never_survive() -> None:
    entry = parse_feed(fixture_bytes("hostile-rss.xml"), base_url="https://blog.example.org/feed/")
    (post,) = entry.entries

    assert post.title == "Atelier «\u00a0tiers-lieux\u00a0»"
    assert post.author == "Intrus"
    everything = " ".join([post.title, post.summary_html, post.excerpt, post.author or ""])
    lowered = everything.lower()
    forbidden_bits = ["<script", "<style", "onclick", "onerror", "onmouseover", "onload"]
    forbidden_bits += ["javascript:", "data:text", "<iframe", "<svg", "evil.example", "alert("]
    for forbidden in forbidden_bits:
        assert forbidden not in lowered, forbidden
    assert 'href="https://blog.example.org/inscription/"' in post.summary_html
    assert "Inscription" in post.summary_html


def test_something_that_is_not_a_feed_is_an_error() -> None:
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):
        parse_feed(b"<html><body>Maintenance en cours</body></html>", base_url=FEED_URL)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://x.example/</link></item></channel></rss>
"""


@pytest.mark.timeout(10)
def test_a_billion_laughs_feed_is_refused() -> None:
    with pytest.raises(ParseError, match="refused: the document has a document type declaration"):
        parse_feed(BILLION_LAUGHS, base_url=FEED_URL)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _xxe_feed(doctype: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
{doctype}
<rss version="2.0"><channel><title>Fuite</title><link>https://x.example/</link>
<item><title>Titre &xxe;</title><link>https://x.example/1</link>
<description>Contenu &xxe;</description></item></channel></rss>
"""


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{path}">]>',
        '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>',
        '<!DOCTYPE rss [<!ENTITY % remote SYSTEM "file://{path}"> %remote;]>',
        "<!DOCTYPE rss [ <!ELEMENT rss ANY> ]>",
        '<!doctype rss[<!entity xxe system "file://{path}">]>',
    ],
)
def test_external_entities_are_refused_and_nothing_is_read(secret_file: Path, doctype: str) -> None:
    feed = _xxe_feed(doctype.format(path=secret_file)).encode()

    with pytest.raises(ParseError, match="refused") as caught:
        parse_feed(feed, base_url=FEED_URL)

    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "cp037"])
def test_entities_hidden_in_another_encoding_are_refused(secret_file: Path, encoding: str) -> None:
    text = _xxe_feed(f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret_file}">]>')
    feed = text.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding)
    if encoding == "utf-16-be":
        feed = codecs.BOM_UTF16_BE + feed

    with pytest.raises(ParseError, match="refused"):
        parse_feed(feed, base_url=FEED_URL)


def test_a_plain_doctype_naming_an_external_dtd_is_refused_and_never_loaded(
    tmp_path: Path,
) -> None:
    dtd = tmp_path / "leak.dtd"
    dtd.write_text(f'<!ENTITY xxe "{SECRET}">')
    feed = _xxe_feed(f'<!DOCTYPE rss SYSTEM "file://{dtd}">').encode()

    with pytest.raises(ParseError, match="refused") as caught:
        parse_feed(feed, base_url=FEED_URL)

    assert SECRET not in str(caught.value)


def test_a_web_page_served_as_a_feed_is_named_as_such() -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>Accueil</title></head><body></body></html>"

    with pytest.raises(ParseError, match="not an RSS or Atom feed: the address serves a web page"):
        parse_feed(page, base_url=FEED_URL)
