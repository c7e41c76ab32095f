"""Headless Chromium for tests: open HTML or a URL, measure overflow, run axe-core.

Uses Debian's Chromium (/usr/bin/chromium) through Playwright; no browser is downloaded.
axe-core comes from npm: `npm ci --prefix tests/browser` installs it into
tests/browser/node_modules (see tests/browser/package.json).

    with browser_session() as browser:
        page = open_html(browser, html, width=375)
        assert horizontal_overflow(page) == 0
        assert serious_violations(page) == []
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_PATH = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"


def missing_browser_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM_PATH).exists() and not shutil.which("chromium"):
        return f"Chromium is not installed at {CHROMIUM_PATH} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not AXE_PATH.exists():
        return "axe-core is not installed: run `npm ci --prefix tests/browser`"
    return None


@contextmanager
def browser_session() -> Iterator[Any]:
    """A headless Chromium browser, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def open_html(browser: Any, html: str, *, width: int, height: int = 900) -> Any:
    """A new page `width` CSS pixels wide showing `html`, with every network request refused.

    Emails point at remote images; tests run offline and must not wait for them.
    """
    page = browser.new_page(viewport={"width": width, "height": height})
    page.route("**/*", lambda route: route.abort())
    page.set_content(html, wait_until="domcontentloaded")
    return page


def open_url(browser: Any, url: str, *, width: int, height: int = 900) -> Any:
    """A new page `width` CSS pixels wide showing `url` (a local test server)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url, wait_until="load")
    return page


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no horizontal scroll)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    )


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """axe-core's violations on the page with one of `impacts`: id, impact, help, targets."""
    page.add_script_tag(content=AXE_PATH.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in impacts
    ]


def screenshot(page: Any, path: Path) -> Path:
    """A full-page PNG of `page` at `path` (for people looking at test output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
