"""`/r/…`: a link of a sent email followed in a browser — counted, sent on, nothing kept
about who followed it; and any other address refused with the public not-found page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import AppSettings, DatabaseSettings, MailSettings, build_settings
from dispatch.db import Base, make_engine, make_sessionmaker, utcnow
from dispatch.delivery import prepared
from dispatch.editions import links
from tests import factories
from tests.editions.delivered import body_text, outbox, send_due
from tests.web.staffsite import StaffSite, populate

TARGET = "https://www.example.org/billet?a=1&b=2"
REDIRECT = re.compile(r"http://testserver(/r/(\d+)/([0-9a-f]+)/([A-Za-z0-9_-]+))")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffSite]:
    folder = tmp_path_factory.mktemp("links")
    url = f"sqlite:///{folder / 'links.sqlite3'}"
    settings = build_settings(
        app=AppSettings(data_dir=folder / "var", base_url="http://testserver"),
        database=DatabaseSettings(url=url),
        mail=MailSettings(link_counts=True),
    )
    built = populate(StaffSite(settings, make_engine(url)))
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def sent(site: StaffSite) -> tuple[int, str]:
    """A newsletter sent by the engine to two readers; its id and one reader's text part."""
    prepared.forget()  # compiled here, by the engine, as a worker would
    with site.session() as session:
        post = factories.item(session, url=TARGET)
        edition = factories.edition(
            session, items=[post], status="scheduled", send_at=utcnow() - timedelta(minutes=1)
        )
        for n in range(2):
            factories.subscriber(session, email=f"lectrice{n}@example.org")
        session.commit()
        edition_id = edition.id
    send_due(make_sessionmaker(site.engine), site.settings, utcnow())
    messages = outbox(site.settings)
    assert len(messages) == 2
    return edition_id, body_text(messages["lectrice0@example.org"][0])


def _dump(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: sorted(map(tuple, session.execute(select(table)).all()), key=repr)
        for table in Base.metadata.sorted_tables
    }


def test_a_link_in_a_sent_email_counts_and_goes_to_its_target(
    site: StaffSite, sent: tuple[int, str]
) -> None:
    edition_id, text = sent
    paths = {m[1]: m for m in REDIRECT.finditer(text)}
    (path, found) = next((p, m) for p, m in paths.items() if m[3] == links.link_id(TARGET))
    assert int(found[2]) == edition_id
    with site.session() as session:
        before = _dump(session)

    answer = site.client().get(path)

    assert answer.status_code == 302
    assert answer.headers["location"] == TARGET
    assert "set-cookie" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    with site.session() as session:
        after = _dump(session)
    # One number went up; no row, no address, no IP, no time was written anywhere.
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"link_targets"}
    (old,) = set(before["link_targets"]) - set(after["link_targets"])
    (new,) = set(after["link_targets"]) - set(before["link_targets"])
    assert new == (*old[:3], old[3] + 1)
    assert "testclient" not in repr(after)

    viewer = site.client(Authorization=f"Bearer {site.token('viewer', 'read')}")
    counted = viewer.get(f"/api/v1/editions/{edition_id}/links").json()
    assert counted["counting"] is True
    assert counted["links"][0] == {"url": TARGET, "clicks": 1}
    # Every link of the edition (written in French only: every reader gets it in French),
    # most followed first.
    assert counted["links"] == [
        {"url": TARGET, "clicks": 1},
        {"url": f"http://testserver/archive/{edition_id}?lang=fr", "clicks": 0},
    ]


def test_a_forged_edited_or_foreign_link_gets_the_not_found_page(
    site: StaffSite, sent: tuple[int, str]
) -> None:
    edition_id, text = sent
    found = next(m for m in REDIRECT.finditer(text) if m[3] == links.link_id(TARGET))
    _, link, signature = found[2], found[3], found[4]
    signature_ = ("A" if signature[0] != "A" else "B") + signature[1:]
    other = links.link_id(f"http://testserver/archive/{edition_id}?lang=fr")
    client = site.client(Accept="text/html")
    with site.session() as session:
        before = links.link_counts(session, edition_id)
    for path in (
        f"/r/{edition_id}/{link}/{signature_}",  # forged signature
        f"/r/{edition_id}/{other}/{signature}",  # this signature on another target
        f"/r/{edition_id + 1}/{link}/{signature}",  # another edition
        f"/r/{edition_id}/{link}",  # cut short
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "location" not in answer.headers
        assert "<html" in answer.text and "Page introuvable" in answer.text
    with site.session() as session:
        assert links.link_counts(session, edition_id) == before  # nothing was counted


def test_the_edition_page_shows_clicks_per_link_and_nobody_s_name(
    site: StaffSite, sent: tuple[int, str]
) -> None:
    edition_id, _text = sent
    page = site.browser("viewer").get(f"/admin/editions/{edition_id}")
    assert page.status_code == 200
    assert "Clics par lien" in page.text and "jamais par qui" in page.text
    assert html.escape(TARGET) in page.text  # the link, shown as text
