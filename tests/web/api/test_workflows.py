"""The API doing what staff do, as a script would: each call audited in the caller's name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.audience.models import Subscriber
from dispatch.content import publications
from dispatch.demo import ensure_topics
from dispatch.social import service as social
from dispatch.social.demo import seed_social
from tests import factories
from tests.web.staffsite import StaffSite, staff_site


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffSite]:
    for built in staff_site(
        request, tmp_path_factory.mktemp("flows"), backend=request.param, name="dispatch_api_flows"
    ):
        with built.session() as session:
            ensure_topics(session)
            session.commit()
        yield built


class Api:
    """`curl -H "Authorization: Bearer …" …/api/v1…`, for one role."""

    def __init__(self, site: StaffSite, role: str) -> None:
        self.client: TestClient = site.client(Authorization=f"Bearer {site.token(role)}")

    def __call__(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        answer = self.client.request(method, "/api/v1" + path, **kwargs)
        assert answer.status_code == expect, answer.text
        return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> Api:
    return Api(site, "editor")


@pytest.fixture(scope="module")
def owner(site: StaffSite) -> Api:
    return Api(site, "owner")


def _audit(owner: Api, action: str) -> list[dict[str, Any]]:
    return [
        e for e in owner("GET", "/audit", params={"limit": 200})["items"] if e["action"] == action
    ]


def test_an_edition_is_composed_scheduled_and_cancelled_by_api(
    site: StaffSite, editor: Api, owner: Api
) -> None:
    pick = editor(
        "POST",
        "/picks",
        201,
        json={
            "url": "https://example.org/lecture",
            "title": "Une lecture pour l’hiver",
            "tag": "mustread",
            "comment": "À lire avant l’AG.",
        },
    )
    assert pick["kind"] == "pick" and pick["tag"] == "mustread"
    draft = editor(
        "POST", "/editions", 201, json={"subject": "La lettre de décembre", "items": [pick["id"]]}
    )
    assert draft["status"] == "draft" and [i["id"] for i in draft["items"]] == [pick["id"]]
    edited = editor(
        "PATCH", f"/editions/{draft['id']}", json={"intro": "Bonjour à toutes et à tous"}
    )
    assert edited["intro"] == "Bonjour à toutes et à tous"
    narrowed = editor("PATCH", f"/editions/{draft['id']}", json={"topics": ["blog"]})
    assert narrowed["audience"] == {"topics": ["blog"]} and narrowed["intro"].startswith("Bonjour")
    wrong = editor("PATCH", f"/editions/{draft['id']}", 422, json={"topics": ["nope"]})
    assert "nope" in str(wrong)
    widened = editor("PATCH", f"/editions/{draft['id']}", json={"topics": []})
    assert widened["audience"] == {}
    titled = editor(
        "PATCH",
        f"/editions/{draft['id']}",
        json={"headings": {str(pick["id"]): {"fr": "À lire"}}},
    )
    assert titled["items"][0]["heading"] == {"fr": "À lire"}
    preview = editor("GET", f"/editions/{draft['id']}/preview", params={"locale": "fr"})
    assert "À lire" in preview["text"]
    half = editor(
        "PATCH",
        f"/editions/{draft['id']}",
        422,
        json={"translations": {"en": {"subject": "The letter"}}},
    )
    assert "no English title" in half["detail"]
    preview = editor("GET", f"/editions/{draft['id']}/preview", params={"locale": "fr"})
    assert "Une lecture pour l’hiver" in preview["html"] and "Bonjour" in preview["text"]

    naive = editor(
        "POST", f"/editions/{draft['id']}/schedule", 422, json={"send_at": "2030-01-07T09:00:00"}
    )
    assert naive["title"] == "Invalid input" and naive["errors"][0]["loc"][-1] == "send_at"
    scheduled = editor(
        "POST",
        f"/editions/{draft['id']}/schedule",
        json={"send_at": "2030-01-07T09:00:00+01:00"},
    )
    assert scheduled["status"] == "scheduled"
    assert scheduled["send_at"] in ("2030-01-07T08:00:00Z", "2030-01-07T08:00:00+00:00")
    status = editor("GET", f"/editions/{draft['id']}/status")
    assert status["status"] == "scheduled" and status["done"] == 0
    cancelled = editor("POST", f"/editions/{draft['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    refused = editor(
        "POST",
        f"/editions/{draft['id']}/schedule",
        409,
        json={"send_at": "2030-01-08T09:00:00+01:00"},
    )
    assert refused["type"] == "about:blank" and refused["detail"]

    for action in (
        "pick.added",
        "edition.created",
        "edition.edited",
        "edition.scheduled",
        "edition.cancelled",
    ):
        [event] = [
            e
            for e in _audit(owner, action)
            if action == "pick.added" or e["object_id"] == str(draft["id"])
        ][:1]
        assert event["actor"] == "editor@example.org", action
        assert event["role"] == "editor" and event["via"] == "api" and event["ip"] == "testclient"
    [scheduling] = [
        e for e in _audit(owner, "edition.scheduled") if e["object_id"] == str(draft["id"])
    ]
    after = datetime.fromisoformat(scheduling["summary"]["after"])
    assert after == datetime(2030, 1, 7, 8, tzinfo=UTC)


def test_an_edition_in_two_languages_by_api(site: StaffSite, editor: Api) -> None:
    with site.session() as session:
        item_id = factories.item(session, title="Un billet").id
        session.commit()
    english = {"subject": "The letter", "intro": "Hello all"}
    draft = editor(
        "POST",
        "/editions",
        201,
        json={"subject": "La lettre", "items": [item_id], "translations": {"en": english}},
    )
    assert draft["translations"] == {"en": {**english, "preheader": ""}}
    edited = editor(
        "PATCH", f"/editions/{draft['id']}", json={"translations": {"en": {"intro": "Hi all"}}}
    )
    assert edited["translations"]["en"] == {
        "subject": "The letter",
        "preheader": "",
        "intro": "Hi all",
    }
    shown = editor("GET", f"/editions/{draft['id']}/preview", params={"locale": "en"})
    assert shown["subject"] == "The letter" and "Hi all" in shown["text"]
    assert 'lang="en"' in shown["html"] and "Highlights" in shown["text"]
    half = editor(
        "PATCH", f"/editions/{draft['id']}", 422, json={"translations": {"en": {"subject": ""}}}
    )
    assert "no subject" in half["detail"]
    gone = editor("PATCH", f"/editions/{draft['id']}", json={"translations": {"en": None}})
    assert gone["translations"] == {}
    french = editor("GET", f"/editions/{draft['id']}/preview", params={"locale": "en"})
    assert french["subject"] == "La lettre" and "À la une" in french["text"]
    assert 'lang="fr"' in french["html"] and "Highlights" not in french["text"]


def test_lists_page_with_a_cursor_newest_first_and_none_twice(editor: Api, site: StaffSite) -> None:
    with site.session() as session:
        item = factories.item(session, title="Pour la pagination")
        session.commit()
    made = [
        editor("POST", "/editions", 201, json={"subject": f"Page {n}", "items": [item.id]})["id"]
        for n in range(5)
    ]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = editor("GET", "/editions", params=params)
        assert len(page["items"]) <= 2
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert set(made) <= set(seen)
    bad = editor("GET", "/editions", 400, params={"cursor": "not-a-cursor"})
    assert bad["title"] == "Bad Request"
    assert bad["detail"] == "This cursor is not one this API gave."


def test_subscribers_are_added_imported_exported_and_erased(
    site: StaffSite, editor: Api, owner: Api
) -> None:
    added = editor(
        "POST",
        "/subscribers",
        201,
        json={
            "email": "Agent.Public@Example.org",
            "name": "Agent public",
            "topics": {"blog": "weekly"},
            "consent_source": "formulaire papier, AG 2026",
        },
    )
    assert added["email"] == "agent.public@example.org" and added["status"] == "active"
    shown = editor("GET", f"/subscribers/{added['id']}")
    assert shown["consent_history"] and shown["consent_history"][0]["source"].startswith(
        "formulaire"
    )

    csv = (
        "email,name,language,topics\n"
        "une@example.org,Une,fr,blog:weekly\n"
        "deux@example.org,Deux,en,\n"
    )
    dry = editor(
        "POST",
        "/subscribers/import",
        params={"consent_source": "liste atelier", "dry_run": "true"},
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert dry["dry_run"] and sorted(dry["added"]) == ["deux@example.org", "une@example.org"]
    wrong = editor(
        "POST",
        "/subscribers/import",
        422,
        params={"consent_source": "liste atelier"},
        content=b"email\nune.autre@example.org\nnot an address\n",
        headers={"Content-Type": "text/csv"},
    )
    assert wrong["detail"] == "1 row(s) cannot be imported; nothing was added."
    assert wrong["errors"][0]["line"] == 3 and wrong["errors"][0]["email"] == "not an address"
    done = editor(
        "POST",
        "/subscribers/import",
        params={"consent_source": "liste atelier"},
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert sorted(done["added"]) == ["deux@example.org", "une@example.org"]
    assert editor("GET", "/subscribers", params={"q": "une.autre"})["items"] == []
    welcomed = editor(
        "POST",
        "/subscribers/import",
        params={"consent_source": "AG 2024", "welcome": "true"},
        content=b"email\ntrois@example.org\n",
        headers={"Content-Type": "text/csv"},
    )
    assert welcomed["added"] == ["trois@example.org"]
    with site.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.welcome_requested_at))
        welcome = dict(list(rows.tuples()))
    # Only the import that asked for it owes anyone a welcome email.
    assert welcome["une@example.org"] is None and welcome["deux@example.org"] is None
    assert welcome["trois@example.org"] is not None
    exported = editor.client.get("/api/v1/subscribers/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "une@example.org" in exported.text and exported.text.startswith("email,name,")

    erased = editor("DELETE", f"/subscribers/{added['id']}")
    assert erased["found"] is True
    editor("GET", f"/subscribers/{added['id']}", 404)
    again = editor(
        "POST",
        "/subscribers",
        409,
        json={"email": "agent.public@example.org", "consent_source": "x"},
    )
    assert again["title"] == "Address suppressed"
    [event] = _audit(owner, "subscriber.erased")[:1]
    assert "agent.public" not in str(event)  # the trail keeps no address of an erased person
    assert _audit(owner, "subscribers.imported") and _audit(owner, "subscribers.exported")


def test_social_posts_are_edited_and_approved_by_api(
    site: StaffSite, editor: Api, owner: Api
) -> None:
    with site.session() as session:
        seed_social(session, site.settings)
        item = factories.item(session, title="Transition juste : les régions s’en mêlent")
        publications.fire_publication(session, item.id)
        social.consume_publications(session, site.settings)
        session.commit()
    posts = editor("GET", "/social/posts", params={"limit": 50})["items"]
    mine = [p for p in posts if p["item_id"] == item.id]
    assert mine
    post = mine[0]
    too_long = editor("PATCH", f"/social/posts/{post['id']}", 422, json={"text": "x" * 5000})
    assert "long" in too_long["detail"].lower() or "caract" in too_long["detail"].lower()
    edited = editor("PATCH", f"/social/posts/{post['id']}", json={"text": "Nouveau texte #onaime"})
    assert edited["text"] == "Nouveau texte #onaime"
    approved = editor("POST", f"/social/posts/{post['id']}/approve")
    assert approved["approved_by"] == "editor@example.org"
    accounts = editor("GET", "/social/accounts")
    assert accounts and all("secret" not in str(a).lower() for a in accounts)
    assert [e for e in _audit(owner, "social.post_approved") if e["object_id"] == str(post["id"])]


def test_owners_manage_staff_through_the_api(site: StaffSite, owner: Api, editor: Api) -> None:
    site.doorbell.clear()
    invited = owner(
        "POST",
        "/staff",
        201,
        json={"email": "stagiaire@example.org", "role": "author", "name": "Stagiaire"},
    )
    assert invited["staff"]["role"] == "author" and invited["staff"]["password_set"] is False
    assert [task for task, _ in site.doorbell] == ["staff.send_link"]
    changed = owner("PATCH", f"/staff/{invited['staff']['id']}", json={"role": "viewer"})
    assert changed["role"] == "viewer"
    listed = {s["email"]: s for s in owner("GET", "/staff")}
    assert listed["stagiaire@example.org"]["role"] == "viewer"
    assert "password_hash" not in str(listed)
    editor("GET", "/staff", 403)
    [event] = [
        e
        for e in _audit(owner, "staff.role_changed")
        if e["object_id"] == str(invited["staff"]["id"])
    ]
    assert event["summary"] == {
        "email": "stagiaire@example.org",
        "before": "author",
        "after": "viewer",
    }


def test_held_bounce_reports_are_reviewed_by_api(site: StaffSite, editor: Api, owner: Api) -> None:
    from dispatch.delivery.bounces import held
    from dispatch.delivery.bounces.reports import BounceKind, BounceReport

    with site.session() as session:
        reader = factories.subscriber(session, email="lectrice.tenue@example.org")
        reader_id = reader.id
        trusted, doubtful = (
            held.hold(
                session,
                BounceReport(
                    kind=BounceKind.HARD,
                    delivery_id=None,
                    recipients=(reader.email,),
                    status="5.1.1",
                    origin=f"MAILER-DAEMON, {subject}",
                ),
                source_ref=f"api-test:{subject}",
                reason="no signed return path",
            ).id
            for subject in ("Undelivered", "Forged")
        )
        session.commit()

    waiting = {row["id"]: row for row in editor("GET", "/bounces/held")}
    assert {trusted, doubtful} <= set(waiting)
    assert waiting[trusted]["recipients"] == ["lectrice.tenue@example.org"]
    # Held, it changed nobody.
    assert editor("GET", f"/subscribers/{reader_id}")["status"] == "active"

    discarded = editor("POST", f"/bounces/held/{doubtful}/discard")
    assert discarded["resolution"] == "discarded"
    assert editor("GET", f"/subscribers/{reader_id}")["status"] == "active"
    applied = editor("POST", f"/bounces/held/{trusted}/apply")
    assert applied["resolution"] == "applied" and "bounced" in applied["outcome"]
    assert editor("GET", f"/subscribers/{reader_id}")["status"] == "bounced"
    # Decided once: a second decision is refused and the list no longer shows them.
    problem = editor("POST", f"/bounces/held/{trusted}/discard", 409)
    assert "already applied" in problem["detail"]
    assert editor("POST", "/bounces/held/2147483000/apply", 404)["status"] == 404
    remaining = {row["id"] for row in editor("GET", "/bounces/held")}
    assert not {trusted, doubtful} & remaining
    assert {trusted, doubtful} <= {
        row["id"] for row in editor("GET", "/bounces/held", params={"include_resolved": True})
    }
    assert [e["object_id"] for e in _audit(owner, "bounce.held_applied")] == [str(trusted)]
    assert [e["object_id"] for e in _audit(owner, "bounce.held_discarded")] == [str(doubtful)]


def test_health_details_are_for_staff_only(site: StaffSite, editor: Api) -> None:
    details = editor("GET", "/health")
    assert details["status"] == "ok" and details["database"]["ok"] is True, details
    assert "broker" in details and isinstance(details["heartbeats"], dict)
    assert site.client().get("/api/v1/health").status_code == 401
    assert site.client().get("/healthz").json() == {"status": "ok"}


def test_an_item_read_from_two_sources_of_a_site_lists_both(site: StaffSite, editor: Api) -> None:
    from dispatch.content import ingest, sources
    from dispatch.content.rss import parse_feed
    from dispatch.content.wordpress import parse_posts
    from tests.content.feed_server import fixture_bytes

    home = "https://www.la27eregion.fr/"
    with site.session() as session:
        feed = sources.add_source(session, url=home + "feed/", kind="rss", topic_slugs=["blog"])
        api = sources.add_source(session, url=home, kind="wordpress", topic_slugs=["blog"])
        parsed = parse_feed(fixture_bytes("wordpress-rss2.xml"), base_url=home + "feed/")
        first = ingest.apply_entries(session, feed.id, ingest.Harvest(parsed))
        posts = parse_posts(fixture_bytes("wp-posts.json"), base_url=home)
        merged = ingest.apply_entries(session, api.id, ingest.Harvest(posts, detect_vanished=False))
        feed_id, api_id = feed.id, api.id
        session.commit()
    assert merged.merged == first.new[:2]

    item = editor("GET", f"/items/{merged.merged[0]}")
    assert item["source_id"] == feed_id
    assert [(s["source_id"], s["kind"]) for s in item["sources"]] == [
        (feed_id, "rss"),
        (api_id, "wordpress"),
    ]
    listed = editor("GET", "/items", params={"source_id": api_id, "limit": 10})["items"]
    assert {i["id"] for i in listed} == set(merged.merged)  # found under either source
