"""Compiling editions once and personalising them: every template, both languages."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch import i18n
from dispatch.editions import compose, samples, templating
from dispatch.editions.compose import CompositionError, compile_edition, personalise
from dispatch.editions.views import EditionView, ItemView, RecipientView
from tests.editions.conftest import ALL_SAMPLES

TEMPLATES = compose.TEMPLATES_DIR


@pytest.mark.parametrize(("kind", "locale"), ALL_SAMPLES)
def test_every_template_compiles_to_a_complete_email(kind, locale, rendered_samples):
    message = rendered_samples[(kind, locale)]
    html, text = message.html, message.text
    assert html.startswith("<!doctype html>")
    assert f'<html lang="{locale}"' in html
    assert message.subject and message.subject in html  # <title>
    assert "La 27e Région" in html and "5 rue Example, 75011 Paris" in html
    assert "5 rue Example, 75011 Paris" in text
    assert "<h1" in html
    assert "dispatch.invalid" not in html + text + message.subject
    assert "{{" not in html and "{%" not in html and "{{" not in text
    # Every image says what it shows (or is marked decorative with an empty alt).
    assert all(" alt=" in tag for tag in re.findall(r"<img\b[^>]*>", html))
    assert "camille.0@example.org" in html and "camille.0@example.org" in text
    if message.bulk:
        assert "https://www.la27eregion.example/unsubscribe/tok000000" in html
        assert "https://www.la27eregion.example/unsubscribe/tok000000" in text
        assert "https://www.la27eregion.example/preferences/tok000000" in html


@pytest.mark.parametrize(("kind", "locale"), ALL_SAMPLES)
def test_plain_text_reads_on_its_own(kind, locale, rendered_samples):
    text = rendered_samples[(kind, locale)].text
    assert "<" not in text.replace("<<", "")  # no markup left over
    assert "\n\n\n" not in text
    long_lines = [line for line in text.splitlines() if len(line) > 78 and "https://" not in line]
    assert long_lines == []
    greeting = "Bonjour Camille Dupré," if locale == "fr" else "Hello Sam Taylor,"
    assert text.startswith(greeting)


def test_newsletter_shows_posts_events_and_picks_grouped_by_tag(rendered_samples):
    html = rendered_samples[("newsletter", "fr")].html
    for heading in ("À la une", "Agenda", "Notre sélection"):
        assert f">{heading}</h2>" in html
    order = [html.index(tag) for tag in ("#onaime", "#controverse", "#mustread")]
    assert order == sorted(order)
    assert "Des agents publics autour d'une table" in html or "Des agents publics" in html
    assert "Publié le 7 juillet 2024" in html
    # 12:00 UTC is 14:00 in Paris; French times keep their no-break spaces.
    assert "mercredi 17 juillet 2024, 14\u00a0h\u00a000 – 17\u00a0h\u00a000" in html
    english = rendered_samples[("newsletter", "en")].html
    assert "Wednesday, July 17, 2024, 2:00\u202fPM – 5:00\u202fPM" in english
    # An all-day event on the 19th alone (its end, the 20th, is exclusive).
    assert "jeudi 19 septembre 2024 (toute la journée)" in html


def test_event_email_carries_calendar_file_and_links(compiled_samples, rendered_samples):
    compiled = compiled_samples[("event", "fr")]
    (attachment,) = compiled.attachments
    assert attachment.filename == "evenement.ics"
    assert b"BEGIN:VEVENT" in attachment.data
    html = rendered_samples[("event", "fr")].html
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in html
    assert "https://outlook.office.com/calendar/0/deeplink/compose?" in html
    # "Add to my calendar" (the .ics online) first, then Google and Outlook beside it.
    links = [html.index(text) for text in ("Ajouter à mon agenda", "Google Agenda", "Outlook")]
    assert links == sorted(links)
    assert "assemblee-generale-2024.ics" in html
    assert "À vos agendas" in html


def test_transactional_emails_carry_their_personal_link(rendered_samples):
    confirm = rendered_samples[("confirm", "fr")]
    assert "https://www.la27eregion.example/confirm/tok000000.Zm9vYmFy" in confirm.html
    assert "https://www.la27eregion.example/confirm/tok000000.Zm9vYmFy" in confirm.text
    assert "Se désabonner" not in confirm.html  # not subscribed yet
    assert not confirm.bulk
    prefs = rendered_samples[("preferences-link", "en")]
    assert prefs.text.count("https://www.la27eregion.example/preferences/tok000000") == 1


def test_recipient_values_are_escaped_in_html_and_plain_in_text(compiled_samples):
    compiled = compiled_samples[("newsletter", "fr")]
    reader = replace(
        samples.sample_recipient("fr"),
        name='Zoé <script>alert("x")</script> & Co',
        unsubscribe_url="https://example.org/u?a=1&b=2",
    )
    message = personalise(compiled, reader)
    assert "<script>alert" not in message.html
    assert "Bonjour Zoé &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co," in message.html
    assert 'href="https://example.org/u?a=1&amp;b=2"' in message.html
    assert 'Bonjour Zoé <script>alert("x")</script> & Co,' in message.text
    assert "https://example.org/u?a=1&b=2" in message.text


def test_a_reader_without_a_name_is_greeted_plainly(compiled_samples):
    message = personalise(
        compiled_samples[("welcome", "en")], replace(samples.sample_recipient("en"), name="")
    )
    assert message.text.startswith("Hello,\n")


def test_a_dangerous_recipient_link_is_dropped(compiled_samples):
    reader = replace(samples.sample_recipient("fr"), unsubscribe_url="javascript:alert(1)")
    message = personalise(compiled_samples[("alert", "fr")], reader)
    assert "javascript:" not in message.html and "javascript:" not in message.text


def test_hostile_content_reaches_the_email_inert():
    hostile = ItemView(
        id=666,
        kind="post",
        title="{{ 7*7 }} {% raw %}<script>alert(1)</script>",
        url="javascript:alert(document.cookie)",
        summary_html=(
            '<p onclick="steal()">Hi <script>alert(2)</script>'
            '<a href="javascript:alert(3)">click</a> <img src=x onerror=alert(4)>'
            "<mj-raw>raw</mj-raw></p>"
        ),
        image_url="javascript:alert(5)",
        image_alt='" onload="alert(6)',
        comment="{{ config }}",
        published_at=None,
    )
    edition = EditionView(
        kind="newsletter",
        subject="{{ 7*7 }} </mj-title><script>alert(7)</script>",
        locale="fr",
        intro_html="<p>{{ 6*7 }}</p><script>alert(8)</script><iframe src='x'></iframe>",
        items=(hostile, replace(hostile, id=667, kind="pick", tag="onaime")),
    )
    compiled = compile_edition(edition, samples.sample_branding())
    message = personalise(compiled, samples.sample_recipient("fr"))
    html, text = message.html, message.text
    assert message.subject == "{{ 7*7 }} </mj-title><script>alert(7)</script>"
    assert "{{ 7*7 }}" in html and "{{ 7*7 }}" in text  # Jinja syntax stays literal
    assert "49" not in html and "42" not in html and "{{ 6*7 }}" in html
    assert "{% raw %}" in text
    assert "{{ config }}" in html  # a comment is not evaluated either
    lowered = html.lower()
    assert "<script" not in lowered and "<iframe" not in lowered
    assert "javascript:" not in lowered and "onerror" not in lowered
    assert "onclick" not in lowered and 'onload="' not in lowered
    assert "<mj-raw" not in lowered


def test_digest_shows_only_the_readers_topics_each_item_once():
    edition = samples.sample_edition("digest", "fr")
    compiled = compile_edition(edition, samples.sample_branding())
    site = "https://www.la27eregion.example"
    reader = replace(samples.sample_recipient("fr"), topics=frozenset({"events"}))
    events_only = personalise(compiled, reader)
    assert ">Événements</h2>" in events_only.html
    assert ">Le blog</h2>" not in events_only.html
    assert "Assemblée générale de La 27e Région" in events_only.html
    assert "Innovation publique" not in events_only.html
    # Item 102 is in both blog and events: readers of both see it once, under the blog.
    both = personalise(compiled, replace(reader, topics=frozenset({"blog", "events"})))
    assert both.html.count(f'href="{site}/2024/07/transitions-territoires/"') == 2  # title + cta
    assert both.html.index("transitions-territoires") < both.html.index(">Événements</h2>")
    assert "Un guide pour des formulaires" not in both.html
    # One compiled variant per distinct topic set, shared by every reader who has it.
    personalise(compiled, replace(reader, email="other@example.org"))
    assert compiled.variant_count == 2


def test_digest_with_nothing_for_a_reader_says_so():
    compiled = compile_edition(samples.sample_edition("digest", "en"), samples.sample_branding())
    reader = replace(samples.sample_recipient("en"), topics=frozenset({"gardening"}))
    assert not compiled.has_content_for(reader)
    assert "Nothing new in your topics this time." in personalise(compiled, reader).text
    assert compiled.has_content_for(samples.sample_recipient("en"))


def test_personalising_reuses_the_compiled_chunks(compiled_samples):
    compiled = compiled_samples[("newsletter", "fr")]
    first = personalise(compiled, samples.sample_recipient("fr", index=1))
    second = personalise(compiled, samples.sample_recipient("fr", index=2))
    assert first.html_static is second.html_static
    assert first.html != second.html


def test_low_contrast_brand_colour_is_darkened_for_links():
    branding = replace(samples.sample_branding(), primary_colour="#ffd400")  # yellow on white
    compiled = compile_edition(samples.sample_edition("welcome", "fr"), branding)
    html = personalise(compiled, samples.sample_recipient("fr")).html
    colours = set(re.findall(r"<a [^>]*style=\"[^\"]*color:\s*(#[0-9a-f]{6})", html))
    assert colours
    assert all(templating.contrast_ratio(c, "#ffffff") >= 4.5 or c == "#ffd400" for c in colours)
    assert "#ffd400" not in colours


def test_a_broken_template_fails_compilation_with_a_clear_message(tmp_path: Path):
    shutil.copytree(TEMPLATES, tmp_path / "email")
    body = tmp_path / "email" / "alert" / "body.mjml"
    body.write_text(body.read_text().replace("{% endblock %}", "{% endblok %}", 1))
    edition = samples.sample_edition("alert", "fr")
    with pytest.raises(CompositionError, match=r"alert/body.mjml line \d+"):
        compile_edition(edition, samples.sample_branding(), templates_dir=tmp_path / "email")


def test_a_template_using_an_unknown_field_fails(tmp_path: Path):
    shutil.copytree(TEMPLATES, tmp_path / "email")
    body = tmp_path / "email" / "welcome" / "body.txt"
    source = body.read_text()
    body.write_text(
        source.replace("{% block content %}", "{% block content %}{{ recipient.password }}")
    )
    edition = samples.sample_edition("welcome", "fr")
    with pytest.raises(CompositionError, match="password"):
        compile_edition(edition, samples.sample_branding(), templates_dir=tmp_path / "email")


def test_an_event_email_without_an_event_is_refused():
    edition = replace(samples.sample_edition("event", "fr"), items=())
    with pytest.raises(CompositionError, match="event"):
        compile_edition(edition, samples.sample_branding())


def test_every_template_string_is_translated_into_french():
    msgids: set[str] = set()
    for path in TEMPLATES.rglob("*"):
        if path.is_file():
            source = path.read_text(encoding="utf-8")
            msgids.update(re.findall(r"""_\(\s*"((?:[^"\\]|\\.)*)"\s*\)""", source))
            msgids.update(re.findall(r"""_\(\s*'((?:[^'\\]|\\.)*)'\s*\)""", source))
    assert len(msgids) > 40
    missing = sorted(m for m in msgids if m not in i18n.CATALOG)
    assert missing == []


def test_recipient_locale_does_not_change_the_edition_language(compiled_samples):
    reader = RecipientView(email="x@example.org", locale="en")
    message = personalise(compiled_samples[("alert", "fr")], reader)
    assert message.locale == "fr" and "Bonjour," in message.text


def test_the_plain_text_keeps_paragraphs_lists_and_french_spaces() -> None:
    from dataclasses import replace

    from dispatch.editions import compose, samples

    edition = replace(
        samples.sample_edition("newsletter", "fr"),
        intro_html=(
            "<p>Bonjour à toutes et à tous,</p><p>Au programme\u00a0: l’évaluation, "
            "« le design » et vous.</p><ul><li>un atelier</li><li>une lecture</li></ul>"
        ),
    )
    compiled = compose.compile_edition(edition, samples.sample_branding())
    text = compose.personalise(compiled, samples.sample_recipient("fr")).text
    assert "Bonjour à toutes et à tous,\n\nAu programme\u00a0: l’évaluation" in text
    assert "\n- un atelier\n- une lecture\n" in text
