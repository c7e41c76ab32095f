"""Rendering posts per network: limits as each network counts, cuts at word boundaries."""

from __future__ import annotations

from datetime import datetime

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mastodon._url_regex import url_regex as mastodon_url_regex

from dispatch.social import counting
from dispatch.social.render import (
    NETWORKS,
    RenderError,
    SocialContent,
    from_text,
    hashtag_for,
    link_text,
    render,
)


def mastodon_oracle(text: str) -> int:
    """Mastodon.py's own count (its port of Mastodon's URL regex), graphemes via \\X."""
    replaced = mastodon_url_regex.sub(lambda m: m.group(2) + "x" * 23, text)
    return len(regex.findall(r"\X", replaced))


def network_count(network: str, text: str) -> int:
    if network == "mastodon":
        return mastodon_oracle(text)
    if network == "bluesky":
        return len(regex.findall(r"\X", text))
    return len(counting.escape_little_text(text).encode("utf-16-le")) // 2


LIMITS = {"mastodon": 500, "bluesky": 300, "linkedin": 3000}

ARTICLE = SocialContent(
    kind="post",
    title="Innovation publique\u00a0: et si on «\u202fdépliait\u202f» l’évaluation\u202f?",
    url="https://www.la27eregion.fr/innovation-publique-et-si-on-depliait-levaluation/",
    excerpt="Retour sur une journée d’atelier. " * 40,
    topics=("blog", "onaime", "politiques-publiques"),
    hashtags={"blog": "#La27eRegion"},
    image_alt="Des post-it sur un mur",
    image_url="https://www.la27eregion.fr/atelier.jpg",
    image_loader=lambda: b"",
)


@pytest.mark.parametrize("network", NETWORKS)
def test_long_excerpt_is_shortened_and_the_rest_kept(network):
    post = render(network, ARTICLE)
    assert network_count(network, post.text) <= LIMITS[network]
    assert post.text.startswith(ARTICLE.title)  # French spaces and quotes intact
    assert "#La27eRegion #onaime #PolitiquesPubliques" in post.text
    assert post.language == "fr"
    if network != "linkedin":
        assert "…" in post.text  # 40 sentences do not fit in 300 or 500
    if network == "mastodon":
        assert ARTICLE.url in post.text
        assert post.image is not None and post.image.alt == "Des post-it sur un mur"


def test_bluesky_link_is_a_facet_on_utf8_byte_offsets_with_a_card():
    post = render("bluesky", ARTICLE)
    encoded = post.text.encode("utf-8")
    [link] = [f for f in post.facets if f.kind == "link"]
    assert link.value == ARTICLE.url
    shown = encoded[link.byte_start : link.byte_end].decode()
    assert shown == link_text(ARTICLE.url)
    assert shown.startswith("la27eregion.fr/innovation-publi") and shown.endswith("…")
    tags = {
        encoded[f.byte_start : f.byte_end].decode(): f.value for f in post.facets if f.kind == "tag"
    }
    assert tags == {
        "#La27eRegion": "La27eRegion",
        "#onaime": "onaime",
        "#PolitiquesPubliques": "PolitiquesPubliques",
    }
    assert post.card is not None and post.card.url == ARTICLE.url
    assert post.card.title == ARTICLE.title
    assert post.card.thumb is not None and post.card.thumb.url.endswith("atelier.jpg")
    assert post.image is None  # the image is the card's thumbnail


def test_bluesky_image_embed_instead_of_card():
    post = render("bluesky", ARTICLE, embed="image")
    assert post.card is None
    assert post.image is not None and post.image.alt == "Des post-it sur un mur"


def test_image_without_alt_text_is_not_attached():
    content = SocialContent(
        kind="post", title="T", url="https://example.org/", image_url="https://example.org/i.png"
    )
    assert render("mastodon", content).image is None


def test_event_in_french_and_in_english():
    event = SocialContent(
        kind="event",
        title="Assemblée générale",
        url="https://www.la27eregion.fr/ag/",
        event_start=datetime(2026, 3, 12, 14, 0),
        event_location="Paris",
        topics=("events",),
    )
    fr = render("mastodon", event).text
    assert fr.startswith("Événement\u00a0: Assemblée générale")
    assert "jeudi 12 mars 2026, 14\u00a0h\u00a000" in fr
    assert "📍 Paris" in fr
    en = render("mastodon", SocialContent(**{**event.__dict__, "language": "en"})).text
    assert en.startswith("Event: Assemblée générale")
    assert "Thursday, March 12, 2026, 2:00\u202fPM" in en


def test_an_event_over_two_days_or_an_afternoon_is_kept_whole() -> None:
    from datetime import UTC

    meeting = SocialContent(
        kind="event",
        title="Rencontres de la transformation publique",
        url="https://www.la27eregion.fr/agenda/rencontres-2027/",
        event_start=datetime(2027, 3, 18, tzinfo=UTC),
        event_end=datetime(2027, 3, 19, tzinfo=UTC),  # the last day, as items keep it
        all_day=True,
    )
    assert "🗓 du 18 au 19 mars 2027" in render("bluesky", meeting).text
    workshop = SocialContent(
        kind="event",
        title="Atelier du jeudi",
        url="https://www.la27eregion.fr/agenda/atelier/",
        event_start=datetime(2026, 12, 3, 13, 0, tzinfo=UTC),
        event_end=datetime(2026, 12, 3, 15, 30, tzinfo=UTC),
    )
    assert (
        "jeudi 3 décembre 2026, 14\u00a0h\u00a000 – 16\u00a0h\u00a030"
        in render("linkedin", workshop).text
    )


def test_edition_announcement():
    edition = SocialContent(
        kind="edition",
        title="La lettre de mars",
        url="https://example.org/lettre/3",
        excerpt="Au sommaire…",
    )
    assert render("bluesky", edition).text.startswith(
        "La lettre est parue\u00a0: La lettre de mars"
    )


def test_hashtags_from_topics():
    assert hashtag_for("onaime", {"onaime": "#onaime"}) == "#onaime"
    assert hashtag_for("mustread") == "#mustread"
    assert hashtag_for("politiques-publiques") == "#PolitiquesPubliques"
    assert hashtag_for("2026") == ""


def test_edited_text_too_long_is_refused_not_cut():
    with pytest.raises(RenderError, match="bluesky allows 300"):
        from_text("bluesky", "mot " * 100, ARTICLE)
    post = from_text("bluesky", f"Texte revu\u00a0! {link_text(ARTICLE.url)}", ARTICLE)
    assert [f.kind for f in post.facets] == ["link"]


def test_linkedin_escaping_keeps_hashtags_and_urls():
    text = "Lien (voir) https://ex.org/a_(b) et #onaime mais C# et a@b"
    assert (
        counting.escape_little_text(text)
        == r"Lien \(voir\) https://ex.org/a_(b) et #onaime mais C\# et a\@b"
    )


# -- properties ----------------------------------------------------------------------------

words = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\u00a0\u202f"
    ),
    min_size=1,
    max_size=25,
)
french = st.sampled_from(
    [
        "«\u00a0citoyens\u00a0»",
        "l’évaluation",
        "Région\u00a0?",
        "été",
        "👩🏽‍💻",
        "e\u0301t\u0301e\u0301",
    ]
)
prose = st.lists(st.one_of(words, french), max_size=120).map(" ".join)
urls = st.builds(
    lambda host, path: f"https://{host}.fr/{path}",
    st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True),
    st.from_regex(r"[a-z0-9_~%/.-]{0,300}", fullmatch=True),
)
topics = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,40}", fullmatch=True), max_size=8).map(tuple)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    network=st.sampled_from(NETWORKS),
    kind=st.sampled_from(["post", "event", "pick", "edition"]),
    title=prose,
    excerpt=prose,
    url=urls,
    topics=topics,
)
def test_rendered_text_always_fits_and_is_never_cut_mid_word(
    network, kind, title, excerpt, url, topics
):
    content = SocialContent(
        kind=kind,
        title=title,
        url=url,
        excerpt=excerpt,
        pick_comment=excerpt,
        topics=topics,
        event_start=datetime(2026, 5, 1, 9, 30),
        event_location=title[:80],
    )
    post = render(network, content)
    assert network_count(network, post.text) <= LIMITS[network]
    if network == "bluesky":
        assert len(post.text.encode()) <= 3000
        link = [f for f in post.facets if f.kind == "link" and f.value == url]
        assert len(link) == 1  # the link always survives, whole, as a facet
    if network == "mastodon":
        assert url in post.text.split()
    # Every word shown is a whole word of the input; a shortened one ends with an ellipsis.
    source = set(BREAKS.split(f"{title} {excerpt} {content.event_location}"))
    source.add(link_text(url))  # Bluesky shows the link shortened; its facet has it whole
    for token in BREAKS.split(post.text):
        if not token.endswith(counting.ELLIPSIS) or token in source:
            continue
        bare = token.removesuffix("\u202f»").removesuffix(counting.ELLIPSIS)
        assert any(w.startswith(bare) and not w[len(bare) :].strip(TRAIL) for w in source), token


BREAKS = regex.compile(r"[ \t\n\r\f\v]+")
TRAIL = " .,;:!?–—-(\u00a0\u202f"


def test_an_all_day_event_shows_its_day_and_no_time() -> None:
    from datetime import UTC, datetime

    from dispatch.social.render import SocialContent, render

    content = SocialContent(
        kind="event",
        title="Rencontres de la transformation publique",
        url="https://www.la27eregion.fr/agenda/rencontres-2027/",
        event_start=datetime(2027, 3, 18, tzinfo=UTC),
        all_day=True,
        event_location="Lyon",
    )
    text = render("mastodon", content).text
    assert "jeudi 18 mars 2027" in text
    assert " h " not in text.replace("\u00a0", " ")


@pytest.mark.parametrize("network", NETWORKS)
def test_french_posts_get_french_spacing_and_english_ones_do_not(network):
    url = "https://www.example.org/?p=12&q=a:b"
    french = SocialContent(
        kind="post", title="Évaluer : pourquoi ? «Déplier» !", url=url, excerpt="Oui ; non."
    )
    post = render(network, french)
    assert "Évaluer\u00a0: pourquoi\u202f? «\u202fDéplier\u202f»\u202f!" in post.text
    assert "Oui\u202f; non." in post.text
    assert url in post.text or post.link == url  # the link is untouched
    edited = from_text(network, f"À lire : {url} !", french)
    assert f"À lire\u00a0: {url}\u202f!" in edited.text
    english = SocialContent(kind="post", title="Why evaluate? Read : this", url=url, language="en")
    assert "Why evaluate? Read : this" in render(network, english).text
