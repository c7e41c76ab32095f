"""The event block in headless Chromium at 375 px: in every phase's email and in the archive."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import Settings
from dispatch.db import session_scope, utcnow
from dispatch.editions import compose, samples
from dispatch.web.app import create_app
from tests import factories
from tests.browser_helpers import (
    axe_violations,
    browser_session,
    horizontal_overflow,
    missing_browser_reason,
    open_html,
)

REASON = missing_browser_reason()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=REASON or "")]
PHONE = 375


@pytest.fixture(scope="module")
def browser() -> Any:
    with browser_session() as session:
        yield session


def _rich_event() -> Any:
    """Two days, online and in a room, with a long link, organiser, price and registration."""
    return replace(
        samples.sample_items()[3],
        title="Rencontres de la transformation publique : deux journées pour croiser nos pratiques",
        event_start=datetime(2027, 3, 18, tzinfo=UTC),
        event_end=datetime(2027, 3, 20, tzinfo=UTC),
        location="Hôtel de Région, 1 esplanade François Mitterrand, 69002 Lyon",
        online_url="https://visio.la27eregion.example/rencontres-de-la-transformation-publique-2027",
        registration_url="https://www.helloasso.com/associations/la-27e-region/evenements/rencontres",
        organiser="La 27e Région et ses partenaires",
        cost="Gratuit, sur inscription",
        ics_url="https://dispatch.la27eregion.example/events/203.ics",
    )


def _check_event_block(page: Any) -> None:
    assert horizontal_overflow(page) == 0
    block = page.evaluate(
        "() => { const r = document.querySelector('.event').getBoundingClientRect();"
        " return [r.left, r.right]; }"
    )
    assert block[0] >= 0 and block[1] <= PHONE
    # "Ajouter à mon agenda" comes first and can be tapped.
    link = page.get_by_role("link", name="Ajouter à mon agenda")
    box = link.bounding_box()
    assert box is not None and box["width"] > 40 and box["x"] + box["width"] <= PHONE
    assert axe_violations(page) == []


@pytest.mark.parametrize("phase", ["announcement", "reminder", "changed", "cancelled"])
def test_the_event_block_of_each_email_fits_a_phone_and_passes_axe(
    browser: Any, phase: str
) -> None:
    event = _rich_event()
    before = (
        replace(event, event_start=datetime(2027, 3, 11, tzinfo=UTC))
        if phase == "changed"
        else None
    )
    shown = replace(event, cancelled=True) if phase == "cancelled" else event
    view = replace(
        samples.sample_edition("event", "fr"),
        items=(shown,),
        event_phase=phase,  # type: ignore[arg-type]
        event_before=before,
    )
    compiled = compose.compile_edition(view, samples.sample_branding())
    html = compose.personalise(compiled, samples.sample_recipient("fr")).html
    assert "du 18 au 19 mars 2027" in html
    page = open_html(browser, html, width=PHONE)
    try:
        if phase == "cancelled":
            assert horizontal_overflow(page) == 0
            assert page.get_by_text("cet évènement n’aura pas lieu").count() == 1
            assert axe_violations(page) == []
        else:
            _check_event_block(page)
    finally:
        page.close()


def test_the_event_block_of_the_archive_fits_a_phone_and_passes_axe(
    browser: Any, settings: Settings, committed_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with session_scope(sessions) as session:
        event = factories.event(
            session,
            datetime(2027, 3, 18, tzinfo=UTC),
            datetime(2027, 3, 19, tzinfo=UTC),
            all_day=True,
            title="Rencontres de la transformation publique",
            online_url="https://visio.la27eregion.example/rencontres-de-la-transformation-2027",
        )
        post = factories.item(session, published_at=utcnow() - timedelta(days=1))
        edition = factories.edition(
            session, items=[post, event], status="sent", started_at=utcnow()
        )
        edition_id, event_id = edition.id, event.id
    client = TestClient(create_app(settings, engine=committed_engine))
    html = client.get(f"/archive/{edition_id}").text
    assert f"/events/{event_id}.ics" in html
    page = open_html(browser, html, width=PHONE)
    try:
        assert page.get_by_text("du 18 au 19 mars 2027").count() == 1
        _check_event_block(page)
    finally:
        page.close()
