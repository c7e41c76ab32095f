"""Link counts: off, emails are untouched; on, links go through a signed redirect, rewritten
once per compiled variant, that counts per (edition, link) and refuses any other target."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch.config import AppSettings, MailSettings, Settings, build_settings
from dispatch.editions import compose, links, samples
from dispatch.editions.links import LinkTarget
from dispatch.editions.models import Edition
from dispatch.editions.service import branding, compile_for_send, edition_view
from dispatch.editions.views import TRANSACTIONAL_KINDS
from tests import factories
from tests.browser_helpers import browser_session, missing_browser_reason
from tests.editions import test_compose, test_email_rendering
from tests.editions.conftest import ALL_SAMPLES

BASE = "https://lettre.example"
REDIRECT = re.compile(re.escape(BASE) + r"/r/(\d+)/([0-9a-f]+)/([A-Za-z0-9_-]+)")
BULK_SAMPLES = [key for key in ALL_SAMPLES if key[0] not in TRANSACTIONAL_KINDS]


def _settings(tmp_path: Path, *, on: bool) -> Settings:
    return build_settings(
        app=AppSettings(data_dir=tmp_path, base_url=BASE), mail=MailSettings(link_counts=on)
    )


def _edition(session: Session, **fields: object) -> int:
    post = factories.item(session, url="https://www.example.org/billet?a=1&b=2")
    pick = factories.item(session, kind="pick", tag="onaime", url="https://example.net/lecture")
    edition = factories.edition(session, items=[post, pick], **fields)
    return edition.id


def _reader(locale: str = "fr") -> compose.RecipientView:
    return samples.sample_recipient(locale)


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    compiled: list[object] = []
    original = compose._compile_variant

    def counting(edition: compose.CompiledEdition, *key: object) -> object:
        compiled.append(key)
        return original(edition, *key)  # type: ignore[arg-type]

    monkeypatch.setattr(compose, "_compile_variant", counting)
    return compiled


def test_off_by_default_the_email_is_what_it_was(db_session: Session, tmp_path: Path) -> None:
    settings = build_settings(app=AppSettings(data_dir=tmp_path, base_url=BASE))
    assert settings.mail.link_counts is False
    edition_id = _edition(db_session)

    sent = compile_for_send(db_session, edition_id, settings).for_locale("fr")
    row = db_session.get(Edition, edition_id)
    assert row is not None
    view = edition_view(db_session, row, locale="fr", base_url=BASE)
    before = compose.personalise(compose.compile_edition(view, branding(settings)), _reader())
    after = compose.personalise(sent, _reader())

    assert (after.html, after.text) == (before.html, before.text)
    assert "/r/" not in after.html + after.text
    assert "https://www.example.org/billet?a=1&amp;b=2" in after.html
    assert db_session.scalar(select(func.count()).select_from(LinkTarget)) == 0


def test_on_every_link_is_rewritten_once_per_compile(
    db_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edition_id = _edition(db_session)
    compiles = _count_compiles(monkeypatch)
    compile_for_send(db_session, edition_id, _settings(tmp_path, on=False))
    compiles_off = len(compiles)
    compiles.clear()
    compilation = compile_for_send(db_session, edition_id, _settings(tmp_path, on=True))
    # One: written in French only, it reaches every reader in French, links on or off.
    assert len(compiles) == compiles_off == 1

    compiled = compilation.for_locale("fr")
    first, second = (
        compose.personalise(compiled, _reader()),
        compose.personalise(compiled, samples.sample_recipient("fr", index=1)),
    )
    assert len(compiles) == 1  # readers are not compiled for
    assert first.html_static is second.html_static  # the rewritten chunks are shared

    stored = dict(
        db_session.execute(
            select(LinkTarget.link_id, LinkTarget.url).where(LinkTarget.edition_id == edition_id)
        ).all()
    )
    assert "https://www.example.org/billet?a=1&b=2" in stored.values()
    assert "https://example.net/lecture" in stored.values()
    for href in _hrefs(first.html):
        if href.startswith("https://www.la27eregion.example/"):  # the reader's own links
            assert "/unsubscribe/" in href or "/preferences/" in href
            continue
        found = REDIRECT.fullmatch(href)
        assert found, href
        assert int(found[1]) == edition_id and found[2] in stored
    text_urls = re.findall(r"https?://\S+", first.text)
    assert any(REDIRECT.fullmatch(url) for url in text_urls)
    assert all(
        REDIRECT.fullmatch(url) or "/unsubscribe/" in url or "/preferences/" in url
        for url in text_urls
    )
    assert first.unsubscribe_url.startswith("https://www.la27eregion.example/unsubscribe/")


def test_mailto_and_transactional_mail_are_left_alone(tmp_path: Path) -> None:
    plan = links.LinkPlan(edition_id=1, base_url=BASE, _key="k" * 40)
    html = '<a href="mailto:lettre@example.org">Écrire</a> <a href="https://example.org/">x</a>'
    assert links.rewrite(plan, "confirm", html, "https://example.org/") == (
        html,
        "https://example.org/",
    )
    rewritten, _ = links.rewrite(plan, "newsletter", html, "")
    assert 'href="mailto:lettre@example.org"' in rewritten
    assert 'href="https://example.org/"' not in rewritten
    quoted, _ = links.rewrite(plan, "newsletter", "<a href='https://example.org/?a=1&amp;b=2'>", "")
    assert quoted.startswith(
        f"<a href='{BASE}/r/1/{links.link_id('https://example.org/?a=1&b=2')}/"
    )
    for kind in TRANSACTIONAL_KINDS:
        compiled = compose.compile_edition(
            samples.sample_edition(kind, "fr"), samples.sample_branding(), link_plan=plan
        )
        message = compose.personalise(compiled, _reader())
        assert "/r/" not in message.html + message.text


def test_a_digest_variant_compiled_later_has_every_link_stored(
    db_session: Session, tmp_path: Path
) -> None:
    blog = factories.item(db_session, topics=["blog"], url="https://example.org/blog")
    event_page = "https://example.org/agenda"
    other = factories.item(db_session, topics=["events"], url=event_page)
    digest = factories.edition(
        db_session, kind="digest", items=[blog, other], audience={"frequency": "weekly"}
    )
    compiled = compile_for_send(db_session, digest.id, _settings(tmp_path, on=True)).for_locale(
        "fr"
    )
    reader = samples.sample_recipient("fr")
    message = compose.personalise(compiled, replace(reader, topics=frozenset({"events"})))
    stored = set(
        db_session.scalars(select(LinkTarget.link_id).where(LinkTarget.edition_id == digest.id))
    )
    ids = [found[2] for found in REDIRECT.finditer(message.html + message.text)]
    assert ids and set(ids) <= stored
    assert "https://example.org/blog" not in message.html  # not this reader's topic


def test_a_redirect_counts_and_refuses_any_other_target(
    db_session: Session, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, on=True)
    edition_id = _edition(db_session)
    other_id = _edition(db_session)
    html = compose.personalise(
        compile_for_send(db_session, edition_id, settings).for_locale("fr"), _reader()
    ).html
    compile_for_send(db_session, other_id, settings)
    target = "https://example.net/lecture"
    link = links.link_id(target)
    found = next(f for f in REDIRECT.finditer(html) if f[2] == link)
    signature = found[3]

    assert links.follow(db_session, settings, edition_id, link, signature) == target
    assert links.follow(db_session, settings, edition_id, link, signature) == target
    assert dict(links.link_counts(db_session, edition_id))[target] == 2

    forged = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert links.follow(db_session, settings, edition_id, link, forged) is None
    # The same link id and signature on another edition that has that link too.
    assert links.follow(db_session, settings, other_id, link, signature) is None
    # Another link of the same edition with this link's signature.
    another = links.link_id("https://www.example.org/billet?a=1&b=2")
    assert links.follow(db_session, settings, edition_id, another, signature) is None
    assert links.follow(db_session, settings, edition_id, "0" * 12, signature) is None
    # A target changed in the database after the email went out.
    db_session.execute(
        update(LinkTarget)
        .where(LinkTarget.edition_id == edition_id, LinkTarget.link_id == link)
        .values(url="https://evil.example/")
    )
    assert links.follow(db_session, settings, edition_id, link, signature) is None
    counts = dict(links.link_counts(db_session, edition_id))
    assert counts["https://evil.example/"] == 2 and set(counts.values()) == {0, 2}
    assert dict(links.link_counts(db_session, other_id)).get(target) == 0


def test_links_survive_key_rotation(db_session: Session, tmp_path: Path) -> None:
    old = _settings(tmp_path, on=True)
    edition_id = _edition(db_session)
    html = compose.personalise(
        compile_for_send(db_session, edition_id, old).for_locale("fr"), _reader()
    ).html
    found = next(REDIRECT.finditer(html))
    rotated = build_settings(
        app=AppSettings(data_dir=tmp_path, base_url=BASE),
        mail=MailSettings(link_counts=True),
        security={"secret_key": "n" * 48, "old_secret_keys": old.secret_key},
    )
    assert links.follow(db_session, rotated, edition_id, found[2], found[3]) is not None


# --- The existing email checks, on the rewritten emails ------------------------------------


@pytest.fixture(scope="module")
def linked_samples() -> dict[tuple[str, str], compose.RenderedMessage]:
    rendered = {}
    for kind, locale in BULK_SAMPLES:
        plan = links.LinkPlan(edition_id=42, base_url=BASE, _key="k" * 40)
        compiled = compose.compile_edition(
            samples.sample_edition(kind, locale), samples.sample_branding(), link_plan=plan
        )
        rendered[(kind, locale)] = compose.personalise(compiled, samples.sample_recipient(locale))
        assert plan.targets, kind
    return rendered


@pytest.mark.parametrize(("kind", "locale"), BULK_SAMPLES)
def test_rewritten_emails_pass_the_compose_checks(kind, locale, linked_samples) -> None:
    assert REDIRECT.search(linked_samples[(kind, locale)].html)
    test_compose.test_every_template_compiles_to_a_complete_email(kind, locale, linked_samples)
    test_compose.test_plain_text_reads_on_its_own(kind, locale, linked_samples)


@pytest.mark.browser
@pytest.mark.skipif(missing_browser_reason() is not None, reason=missing_browser_reason() or "")
def test_rewritten_emails_fit_a_phone_and_pass_axe(linked_samples, tmp_path: Path) -> None:
    with browser_session() as browser:
        for kind, locale in (("newsletter", "fr"), ("digest", "en")):
            test_email_rendering.test_email_fits_a_phone_and_a_desktop_client(
                kind, locale, linked_samples, browser, tmp_path
            )
