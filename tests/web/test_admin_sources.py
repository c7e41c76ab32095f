"""Staff pages: sources (add with topics and rules, read now, pause, resume, remove) and
topics (add, rename, reorder, and removal only when nothing uses them)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.content.models import Source, Topic, TopicRule
from dispatch.db import utcnow
from tests import factories
from tests.web.staffsite import StaffSite, plain, post_form, staff_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-sources")):
        with built.session() as session:
            factories.topic(session, "blog", name_fr="Le blog", name_en="The blog")
            factories.topic(session, "events", name_fr="Évènements", name_en="Events")
            factories.source(
                session,
                name="Flux en panne",
                url="https://broken.example/feed",
                last_status="error",
                last_polled_at=utcnow(),
                last_error="could not resolve broken.example",
                consecutive_failures=3,
            )
            factories.source(
                session,
                name="Flux qui marche",
                url="https://ok.example/feed",
                last_status="ok",
                last_polled_at=utcnow(),
                last_result="2 new, 0 updated, 5 unchanged",
            )
            factories.source(
                session,
                kind="wordpress",
                name="Site WordPress",
                url="https://wp.example/",
                last_status="ok",
                last_polled_at=utcnow(),
                last_result="not modified; events: 1 new, 0 updated, 3 unchanged",
                events_last_result="1 new, 0 updated, 3 unchanged",
            )
            factories.subscriber(session, topics={"events": "weekly"})
            session.commit()
        yield built


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> TestClient:
    return site.browser("editor")


def _source(site: StaffSite, url: str) -> Source | None:
    with site.session() as session:
        found = session.scalar(select(Source).where(Source.url == url))
        if found is not None:
            session.expunge(found)
        return found


def test_sources_say_their_last_result_and_error_in_plain_french(editor: TestClient) -> None:
    page = editor.get("/admin/sources")
    assert page.status_code == 200
    assert "Le nom du site est introuvable : vérifiez l’adresse." in plain(page.text)
    assert "(3 lectures de suite)" in plain(page.text)
    assert "2 nouveaux, 0 mis à jour, 5 inchangés." in plain(page.text)
    assert "Rien de nouveau depuis la lecture précédente." in plain(page.text)
    assert "Évènements : 1 nouveaux, 0 mis à jour, 3 inchangés." in plain(page.text)
    assert re.search(r"\d{4}-\d\d-\d\d", page.text) is None  # times in words, never ISO


def test_a_source_is_added_with_topics_and_rules_and_read_at_once(
    editor: TestClient, site: StaffSite
) -> None:
    site.doorbell.clear()
    fields = [
        ("url", "https://www.la27eregion.fr/"),
        ("kind", "wordpress"),
        ("name", "La 27e Région"),
        ("topics", "blog"),
        ("topics", "events"),
        ("interval", "30"),
        ("rules", "Évènements = events\nnope"),
    ]
    refused = post_form(editor, "/admin/sources", "/admin/sources", fields)
    assert refused.status_code == 400 and "catégorie = thème (nope)" in plain(refused.text)
    fields[-1] = ("rules", "Évènements = events")
    added = post_form(editor, "/admin/sources", "/admin/sources", fields)
    assert added.status_code == 303
    assert "La source est ajoutée" in plain(editor.get(added.headers["location"]).text)
    source = _source(site, "https://www.la27eregion.fr/")
    assert source is not None and source.interval_minutes == 30
    assert sorted(t.slug for t in source.topics) == ["blog", "events"]
    with site.session() as session:
        rule = session.scalar(select(TopicRule).where(TopicRule.source_id == source.id))
        assert rule is not None and rule.match == "evenements"
    assert ("content.poll_source", (source.id,)) in site.doorbell
    again = post_form(editor, "/admin/sources", "/admin/sources", fields)
    assert again.status_code == 400 and "déjà dans la liste" in plain(again.text)


def test_read_now_pause_resume_and_remove(editor: TestClient, site: StaffSite) -> None:
    source = _source(site, "https://ok.example/feed")
    assert source is not None
    site.doorbell.clear()
    polled = post_form(editor, "/admin/sources", f"/admin/sources/{source.id}/poll")
    assert polled.status_code == 303 and "done=polling" in polled.headers["location"]
    assert site.doorbell == [("content.poll_source", (source.id,))]
    busy = post_form(editor, "/admin/sources", f"/admin/sources/{source.id}/poll")
    assert "done=busy" in busy.headers["location"]  # claimed already: not rung twice
    assert len(site.doorbell) == 1

    post_form(editor, "/admin/sources", f"/admin/sources/{source.id}/pause")
    paused = _source(site, "https://ok.example/feed")
    assert paused is not None and not paused.enabled
    assert "en pause" in plain(editor.get("/admin/sources").text)
    post_form(editor, "/admin/sources", f"/admin/sources/{source.id}/resume")
    resumed = _source(site, "https://ok.example/feed")
    assert resumed is not None and resumed.enabled

    confirm = editor.get(f"/admin/sources/{source.id}/remove")
    assert confirm.status_code == 200 and "Retirer cette source ?" in plain(confirm.text)
    post_form(editor, confirm.url.path, f"/admin/sources/{source.id}/remove")
    assert "https://ok.example/feed" not in plain(editor.get("/admin/sources").text)
    actions = [a for a, who in site.audit_actions() if who == "editor@example.org"]
    assert {"source.paused", "source.resumed", "source.removed"} <= set(actions)


def test_a_viewer_sees_sources_without_buttons_and_cannot_post(site: StaffSite) -> None:
    viewer = site.browser("viewer")
    page = viewer.get("/admin/sources")
    assert page.status_code == 200 and "Lire maintenant" not in plain(page.text)
    broken = _source(site, "https://broken.example/feed")
    assert broken is not None
    refused = post_form(viewer, "/admin/sources", f"/admin/sources/{broken.id}/pause")
    assert refused.status_code == 403
    still = _source(site, "https://broken.example/feed")
    assert still is not None and still.enabled


def _topic(site: StaffSite, slug: str) -> Topic | None:
    with site.session() as session:
        found = session.scalar(select(Topic).where(Topic.slug == slug))
        if found is not None:
            session.expunge(found)
        return found


def test_topics_are_added_renamed_and_removed_only_when_safe(
    editor: TestClient, site: StaffSite
) -> None:
    listing = editor.get("/admin/topics")
    assert listing.status_code == 200 and "Évènements" in plain(listing.text)
    fields = {"slug": "podcasts", "name_fr": "Podcasts", "name_en": "Podcasts", "hashtag": ""}
    assert post_form(editor, "/admin/topics", "/admin/topics", fields).status_code == 303
    duplicate = post_form(editor, "/admin/topics", "/admin/topics", fields)
    assert duplicate.status_code == 400 and "a déjà ce nom court" in plain(duplicate.text)
    podcasts = _topic(site, "podcasts")
    assert podcasts is not None and podcasts.hashtag == "#podcasts"

    page = f"/admin/topics/{podcasts.id}"
    renamed = post_form(
        editor,
        page,
        page,
        {"name_fr": "Nos podcasts", "name_en": "Our podcasts", "hashtag": "#pod", "position": "0"},
    )
    assert renamed.status_code == 303
    changed = _topic(site, "podcasts")
    assert changed is not None and changed.name_fr == "Nos podcasts" and changed.position == 0

    events = _topic(site, "events")
    assert events is not None
    held = editor.get(f"/admin/topics/{events.id}")
    assert "1 abonné·es le suivent" in plain(
        held.text
    ) and "Supprimer le thème</button>" not in plain(held.text)
    refused = post_form(editor, held.url.path, f"/admin/topics/{events.id}/remove")
    assert refused.status_code == 400 and _topic(site, "events") is not None

    removed = post_form(editor, page, f"/admin/topics/{podcasts.id}/remove")
    assert removed.status_code == 303 and _topic(site, "podcasts") is None
    actions = [a for a, who in site.audit_actions() if who == "editor@example.org"]
    assert {"topic.added", "topic.changed", "topic.removed"} <= set(actions)


def test_a_rule_is_removed_and_english_staff_read_english(site: StaffSite) -> None:
    from dispatch.staff.accounts import find

    with site.session() as session:
        author = find(session, "author@example.org")
        assert author is not None
        author.language = "en"
        session.commit()
    english = site.browser("author")
    page = english.get("/admin/sources")
    assert 'lang="en"' in page.text and "Pas encore lue" not in page.text
    assert "The site's name is not found" in page.text.replace("&#39;", "'")
    assert "Remove the rule" not in page.text  # an author changes no source

    editor = site.browser("editor")
    with site.session() as session:
        rule = session.scalar(select(TopicRule))
        if rule is None:  # this test's own rule when it runs before the one that adds some
            source = session.scalar(select(Source).order_by(Source.id))
            assert source is not None
            rule = TopicRule(
                source_id=source.id,
                match="Évènements",
                topic_id=factories.topic(session, "events").id,
            )
            session.add(rule)
            session.commit()
        rule_id = rule.id
    removed = post_form(editor, "/admin/sources", f"/admin/sources/rules/{rule_id}/remove")
    assert removed.status_code == 303
    with site.session() as session:
        assert session.get(TopicRule, rule_id) is None
