"""Every email in headless Chromium: fits a phone without horizontal scroll, passes axe-core."""

from __future__ import annotations

import pytest

from tests.browser_helpers import (
    axe_violations,
    browser_session,
    horizontal_overflow,
    missing_browser_reason,
    open_html,
    screenshot,
)
from tests.editions.conftest import ALL_SAMPLES

REASON = missing_browser_reason()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=REASON or "")]


@pytest.fixture(scope="module")
def browser():
    with browser_session() as session:
        yield session


@pytest.mark.parametrize(("kind", "locale"), ALL_SAMPLES)
def test_email_fits_a_phone_and_a_desktop_client(kind, locale, rendered_samples, browser, tmp_path):
    html = rendered_samples[(kind, locale)].html
    phone = open_html(browser, html, width=375)
    try:
        assert horizontal_overflow(phone) == 0
        shot = screenshot(phone, tmp_path / f"{kind}-{locale}-375.png")
        assert shot.stat().st_size > 5000  # something was drawn
        # The content column uses the phone's width rather than a shrunken 600 px layout.
        heading_width = phone.evaluate(
            "() => document.querySelector('h1').getBoundingClientRect().width"
        )
        assert 250 < heading_width <= 375
    finally:
        phone.close()
    desktop = open_html(browser, html, width=600)
    try:
        assert horizontal_overflow(desktop) == 0
        screenshot(desktop, tmp_path / f"{kind}-{locale}-600.png")
        assert axe_violations(desktop) == []
        assert desktop.evaluate("() => document.documentElement.lang") == locale
        assert desktop.title()
    finally:
        desktop.close()


def test_axe_reports_what_it_should(browser):
    """The accessibility check can fail: an image without alt and grey-on-grey text."""
    page = open_html(
        browser,
        '<!doctype html><html><body><img src="x.png"><p style="color:#ddd;background:#eee">'
        "faint</p></body></html>",
        width=600,
    )
    try:
        found = {violation["id"] for violation in axe_violations(page)}
    finally:
        page.close()
    assert {"image-alt", "color-contrast", "html-has-lang"} <= found


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_a_letter_with_sections_of_its_own_fits_and_passes_axe(locale, browser, tmp_path):
    from dataclasses import replace

    from dispatch.editions import compose, samples

    edition = samples.sample_edition("newsletter", locale)
    first, *rest = edition.items
    title = "À lire aussi" if locale == "fr" else "Also worth reading"
    items = (first, *(replace(item, section=title) for item in rest))
    compiled = compose.compile_edition(replace(edition, items=items), samples.sample_branding())
    html = compose.personalise(compiled, samples.sample_recipient(locale)).html
    assert title in html
    for width in (375, 600):
        page = open_html(browser, html, width=width)
        try:
            assert horizontal_overflow(page) == 0
            screenshot(page, tmp_path / f"sections-{locale}-{width}.png")
            assert axe_violations(page) == []
        finally:
            page.close()
