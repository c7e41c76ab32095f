"""`dispatch editions links ID`: clicks per link of an edition, as staff read them."""

from __future__ import annotations

import json

import pytest

from dispatch import config
from dispatch.editions.links import LinkTarget
from tests import factories
from tests.conftest import Cli


def _counted_edition(cli: Cli) -> int:
    with cli.sessions()() as session:
        edition = factories.edition(session, status="sent")
        session.add_all(
            [
                LinkTarget(
                    edition_id=edition.id, link_id="a" * 12, url="https://a.example/", clicks=3
                ),
                LinkTarget(
                    edition_id=edition.id, link_id="b" * 12, url="https://b.example/", clicks=0
                ),
                LinkTarget(
                    edition_id=edition.id, link_id="c" * 12, url="https://c.example/", clicks=5
                ),
            ]
        )
        session.commit()
        return edition.id


def test_links_lists_clicks_most_followed_first(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_MAIL__LINK_COUNTS", "true")
    config.get_settings.cache_clear()
    edition_id = _counted_edition(cli)

    text = cli("editions", "links", str(edition_id))
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[-3:] == [
        "      5  https://c.example/",
        "      3  https://a.example/",
        "      0  https://b.example/",
    ]
    result = cli("editions", "links", str(edition_id), "--json")
    assert json.loads(result.output) == [
        {"url": "https://c.example/", "clicks": 5},
        {"url": "https://a.example/", "clicks": 3},
        {"url": "https://b.example/", "clicks": 0},
    ]


def test_links_says_when_counting_is_off_and_refuses_a_missing_edition(cli: Cli) -> None:
    edition_id = _counted_edition(cli)
    result = cli("editions", "links", str(edition_id))
    assert result.exit_code == 0, result.output
    assert "Link counts are off (mail.link_counts = false)" in result.output

    missing = cli("editions", "links", "99")
    assert missing.exit_code == 1
    assert "Edition 99 does not exist" in missing.output
