"""Staff pages: suppressed addresses by reason, held bounce reports applied or discarded,
and the audit trail with its filters."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch.audience import suppression
from dispatch.audience.models import Subscriber
from dispatch.delivery.bounces import held
from dispatch.delivery.models import HeldReport
from tests import factories
from tests.web.staffsite import StaffSite, plain, post_form, staff_site


def _held_report(address: str, source_ref: str) -> HeldReport:
    """A hard bounce report held for review: nothing proves which email it answers."""
    return HeldReport(
        kind="hard",
        recipients=address,
        status_code="5.1.1",
        diagnostic="550 5.1.1 user unknown",
        origin="MAILER-DAEMON@mx.example",
        reason=held.NO_PROOF,
        source_ref=source_ref,
    )


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StaffSite]:
    for built in staff_site(request, tmp_path_factory.mktemp("admin-bounces")):
        with built.session() as session:
            gone = factories.subscriber(session, email="partie@example.org", status="bounced")
            suppression.suppress(session, built.settings, gone.email, "bounced")
            left = factories.subscriber(session, email="quitte@example.org", status="unsubscribed")
            suppression.suppress(session, built.settings, left.email, "unsubscribed")
            suppression.suppress(session, built.settings, "effacee@example.org", "erased")
            factories.subscriber(session, email="lectrice@example.org")
            for n, address in enumerate(("lectrice@example.org", "inconnue@example.org")):
                session.add(_held_report(address, f"maildir:{n}"))
            session.commit()
        yield built


@pytest.fixture(scope="module")
def editor(site: StaffSite) -> TestClient:
    return site.browser("editor")


def test_suppressed_addresses_by_reason_and_search(editor: TestClient) -> None:
    page = plain(editor.get("/admin/bounces").text)
    assert "partie@example.org" in page and "quitte@example.org" in page
    assert "effacee@example.org" not in page  # erased: only a keyed hash is kept
    assert "lectrice@example.org</td>" not in page  # reading, not suppressed
    bounced = plain(editor.get("/admin/bounces", params={"reason": "bounced"}).text)
    assert "partie@example.org" in bounced and "quitte@example.org" not in bounced
    erased = plain(editor.get("/admin/bounces", params={"q": "effacee@example.org"}).text)
    assert "effacee@example.org est bloquée : Effacement demandé." in erased
    fine = plain(editor.get("/admin/bounces", params={"q": "lectrice@example.org"}).text)
    assert "lectrice@example.org n’est pas bloquée." in fine


def test_held_reports_are_applied_or_discarded(editor: TestClient, site: StaffSite) -> None:
    page = editor.get("/admin/bounces")
    assert "Rien ne prouve à quel email il répond" in plain(page.text)
    with site.session() as session:
        first, second = session.scalars(
            select(HeldReport.id)
            .where(HeldReport.source_ref.in_(["maildir:0", "maildir:1"]))
            .order_by(HeldReport.id)
        ).all()
    applied = post_form(editor, "/admin/bounces", f"/admin/bounces/held/{first}/apply")
    assert applied.status_code == 303
    assert "Le retour est appliqué." in plain(editor.get(applied.headers["location"]).text)
    discarded = post_form(editor, "/admin/bounces", f"/admin/bounces/held/{second}/discard")
    assert "done=discarded" in discarded.headers["location"]
    again = post_form(editor, "/admin/bounces", f"/admin/bounces/held/{second}/apply")
    assert "done=refused" in again.headers["location"]
    with site.session() as session:
        person = session.scalar(
            select(Subscriber).where(Subscriber.email == "lectrice@example.org")
        )
        assert person is not None and person.status == "bounced"
    assert "Rien n’attend." in plain(editor.get("/admin/bounces").text)
    actions = [a for a, who in site.audit_actions() if who == "editor@example.org"]
    assert actions[-2:] == ["bounce.held_applied", "bounce.held_discarded"]


def test_an_author_sees_held_reports_but_cannot_apply_them(site: StaffSite) -> None:
    author = site.browser("author")
    page = author.get("/admin/bounces")
    assert page.status_code == 200 and "L’appliquer" not in plain(page.text)
    refused = post_form(author, "/admin/bounces", "/admin/bounces/held/1/apply")
    assert refused.status_code == 403


def test_the_audit_trail_is_filtered_and_speaks_in_words(
    editor: TestClient, site: StaffSite
) -> None:
    # Its own held reports, one applied and one discarded (tests may run in any order).
    with site.session() as session:
        reports = [
            _held_report(address, f"maildir:audit-{address}")
            for address in ("audit-a@example.org", "audit-b@example.org")
        ]
        session.add_all(reports)
        session.commit()
        applied, discarded = (report.id for report in reports)
    post_form(editor, "/admin/bounces", f"/admin/bounces/held/{applied}/apply")
    post_form(editor, "/admin/bounces", f"/admin/bounces/held/{discarded}/discard")
    page = editor.get("/admin/audit")
    assert page.status_code == 200
    text = plain(page.text)
    assert "bounce.held_applied" in text and "editor@example.org" in text
    assert re.search(r"\d{4}-\d\d-\d\dT", page.text) is None  # no raw ISO times
    assert "pages de l’équipe" in text
    assert "Retour en attente appliqué" in text  # the action in words, its code beside it

    from dispatch import audit

    with site.session() as session:
        audit.record(
            session,
            "edition.scheduled",
            object_type="edition",
            object_id=7,
            summary={"send_at": {"before": None, "after": "2026-12-08T08:00:00+00:00"}},
        )
        session.commit()
    scheduled = plain(editor.get("/admin/audit", params={"action": "edition.scheduled"}).text)
    assert "Lettre programmée" in scheduled and 'href="/admin/editions/7"' in scheduled
    assert "send_at: — → mardi 8 décembre 2026, 9 h 00" in scheduled
    by_action = plain(editor.get("/admin/audit", params={"action": "bounce.held_discarded"}).text)
    assert "bounce.held_discarded</code>" in by_action
    assert "bounce.held_applied</code>" not in by_action
    nobody = editor.get("/admin/audit", params={"actor": "owner@example.org"})
    assert "bounce.held_applied</code>" not in nobody.text
    old = editor.get("/admin/audit", params={"until": "2020-01-01"})
    assert "Rien ne correspond." in plain(old.text)
    held_one = editor.get("/admin/audit", params={"object": f"held_report:{applied}"})
    assert "bounce.held_applied</code>" in held_one.text
    assert "bounce.held_discarded</code>" not in held_one.text


VIEWER_PAGES = ("/admin/items", "/admin/sources", "/admin/topics", "/admin/topics/1",
                "/admin/bounces", "/admin/audit")  # fmt: skip
CHANGES = ("/admin/items/picks", "/admin/sources", "/admin/sources/1/poll", "/admin/topics",
           "/admin/topics/1", "/admin/topics/1/remove", "/admin/bounces/held/2/discard",
           "/admin/staff")  # fmt: skip


def test_a_viewer_reads_every_page_but_has_no_button_and_changes_nothing(
    site: StaffSite,
) -> None:
    viewer = site.browser("viewer")
    for path in VIEWER_PAGES:
        page = viewer.get(path)
        assert page.status_code == 200, path
        forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page.text)
        assert forms == ["/admin/logout"], (path, forms)
    before = site.audit_actions()
    for path in CHANGES:
        assert post_form(viewer, "/admin/audit", path, {"name_fr": "x"}).status_code == 403, path
    assert site.audit_actions() == before
