"""Abusive visitors on the public forms: a form token works once (the robot-timing check
with it), "email me my link" does the same work for any address, and a confirmation email
carries nothing a stranger typed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience import service, tokens
from dispatch.audience.models import ConsentEvent, Subscriber
from dispatch.config import Settings
from dispatch.db import session_scope
from dispatch.delivery import transactional
from tests import factories
from tests.doorbells import Rings
from tests.security.conftest import csrf_of, subscription_form


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_subscription_form_is_accepted_once(
    client: TestClient, web_sessions: sessionmaker[Session]
) -> None:
    token = csrf_of(client.get("/").text)

    first = client.post("/subscribe", data=subscription_form(token, "une@example.org"))
    replayed = client.post("/subscribe", data=subscription_form(token, "autre@example.org"))

    assert first.status_code == 200
    assert replayed.status_code == 400 and "a expiré" in replayed.text
    with web_sessions() as session:
        emails = session.scalars(select(Subscriber.email)).all()
    assert emails == ["une@example.org"]
    # The page that refused it carries a fresh token, which works.
    fresh = csrf_of(replayed.text)
    again = client.post("/subscribe", data=subscription_form(fresh, "autre@example.org"))
    assert again.status_code == 200 and _count(web_sessions, Subscriber) == 2


def test_the_robot_check_cannot_be_passed_once_and_reused(
    web_settings: Settings, web_engine: Engine, rings: Rings, web_sessions: sessionmaker[Session]
) -> None:
    # A robot that waits out the delay once, then posts the same form again and again.
    from dispatch.web.app import create_app

    web_settings.web.form_min_seconds = 0.5
    client = TestClient(create_app(web_settings, engine=web_engine, doorbell=rings))
    token = csrf_of(client.get("/").text)
    time.sleep(0.6)
    answers = [
        client.post("/subscribe", data=subscription_form(token, f"cible{n}@example.org"))
        for n in range(5)
    ]

    assert [a.status_code for a in answers] == [200, 400, 400, 400, 400]
    assert _count(web_sessions, Subscriber) == 1


def test_a_preferences_form_is_accepted_once(
    client: TestClient, web_settings: Settings, web_sessions: sessionmaker[Session]
) -> None:
    with session_scope(web_sessions) as session:
        reader = factories.subscriber(session, email="lea@example.org", topics={"blog": "weekly"})
        reader_id = reader.id
    link = f"/preferences/{tokens.make_token(web_settings, 'preferences', reader_id)}"
    token = csrf_of(client.get(link).text)
    form = {"csrf_token": token, "topic-blog": "monthly", "language": "fr", "pause": "keep"}

    assert client.post(link, data=form).status_code == 303
    assert client.post(link, data={**form, "topic-blog": "none"}).status_code == 400
    with web_sessions() as session:
        changes = session.scalars(
            select(ConsentEvent).where(ConsentEvent.action == "preferences")
        ).all()
    assert len(changes) == 1


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))  # the SQL, placeholders and all: no values

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_email_me_my_link_does_the_same_work_for_any_address(
    client: TestClient,
    web_engine: Engine,
    web_settings: Settings,
    web_sessions: sessionmaker[Session],
    rings: Rings,
) -> None:
    with session_scope(web_sessions) as session:
        known = factories.subscriber(session, email="abonnee@example.org")
        known_id = known.id

    def ask(email: str) -> tuple[str, list[str]]:
        token = csrf_of(client.get("/").text)
        with _statements(web_engine) as statements:
            response = client.post("/preferences/link", data={"csrf_token": token, "email": email})
        assert response.status_code == 200
        return response.text.replace(email, "EMAIL"), statements

    ask("premiere@example.org")  # the hour's rate counters are created by the first post
    known_page, known_work = ask("abonnee@example.org")
    unknown_page, unknown_work = ask("personne@example.org")

    # Same page, same statements on the same tables: nothing tells the two apart.
    assert known_page == unknown_page
    assert known_work == unknown_work
    with web_sessions() as session:
        assert session.get(Subscriber, known_id).link_requested_at is None  # type: ignore[union-attr]
    # The worker's side then mails the subscriber, and only them.
    requests = [ids[0] for task, ids in rings if task == "audience.handle_link_request"]
    assert len(requests) == 3
    rings.clear()
    for request_id in requests:
        with session_scope(web_sessions) as session:
            session.info["dispatch.doorbell"] = rings
            service.handle_link_request(session, web_settings, request_id)
    assert rings == [("audience.send_preferences_link", (known_id,))]


def test_a_confirmation_email_carries_no_text_the_visitor_typed(
    client: TestClient, web_settings: Settings, web_sessions: sessionmaker[Session]
) -> None:
    planted = "Gagnez 1000 euros sur https://arnaque.example"
    token = csrf_of(client.get("/").text)
    form = subscription_form(token, "victime@example.org", name=planted)
    assert client.post("/subscribe", data=form).status_code == 200

    with session_scope(web_sessions) as session:
        person = session.scalars(select(Subscriber)).one()
        assert person.name == planted  # kept, for after the confirmation
        confirmation = transactional.prepare(session, web_settings, "confirm", person.id)
    assert confirmation is not None
    assert b"arnaque" not in confirmation.message and b"Gagnez" not in confirmation.message
    assert b"Bonjour," in confirmation.message


def test_a_link_request_whose_ring_was_lost_is_found_by_the_sweep(
    client: TestClient, web_sessions: sessionmaker[Session], rings: Rings
) -> None:
    from datetime import timedelta

    from dispatch.audience import mail_requests
    from dispatch.db import utcnow

    token = csrf_of(client.get("/").text)
    client.post("/preferences/link", data={"csrf_token": token, "email": "x@example.org"})
    [(task, (request_id,))] = [r for r in rings if r[0] == mail_requests.LINK_REQUEST_TASK]

    with web_sessions() as session:
        assert mail_requests.unsent(session) == []  # within the grace period
        later = utcnow() + mail_requests.SWEEP_GRACE + timedelta(seconds=1)
        assert mail_requests.unsent(session, now=later) == [(task, request_id)]
