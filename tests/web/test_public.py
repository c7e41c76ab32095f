"""The public subscriber pages over HTTP: every route, CSRF, abuse checks and RFC 8058."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from dispatch import migrate
from dispatch.audience import service, tokens
from dispatch.audience.models import ConsentEvent, Subscriber
from dispatch.audience.suppression import is_suppressed
from dispatch.config import AppSettings, Settings, WebSettings, build_settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.demo import ensure_topics
from dispatch.doorbell import SESSION_DOORBELL
from dispatch.web.app import create_app
from tests.doorbells import Rings

_seq = itertools.count(1)


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("public")
    return build_settings(
        app=AppSettings(data_dir=folder, base_url="http://testserver"),
        web=WebSettings(form_min_seconds=0),
    )


@pytest.fixture(scope="module")
def engine(web_settings: Settings) -> Iterator[Engine]:
    engine = make_engine(web_settings.database_url)
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        ensure_topics(session)
        session.commit()
    yield engine
    engine.dispose()


Queue = Rings


@pytest.fixture
def queue() -> Rings:
    return Rings()


@pytest.fixture
def client(web_settings: Settings, engine: Engine, queue: Rings) -> TestClient:
    app = create_app(web_settings, engine=engine, doorbell=queue)
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def session(web_settings: Settings) -> Iterator[Session]:
    # The driver's own transaction handling: reads take no lock the app would wait on.
    reader = create_engine(web_settings.database_url)
    with Session(reader, expire_on_commit=False) as session:
        yield session
    reader.dispose()


def address() -> str:
    return f"lecteur{next(_seq)}@example.org"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def subscribe(client: TestClient, email: str, **extra: str) -> Any:
    page = client.get("/")
    form = {
        "csrf_token": csrf_of(page.text),
        "email": email,
        "name": "Léa Martin",
        "topic-blog": "weekly",
        "topic-events": "immediately",
        "language": "fr",
        "consent": "yes",
        "consent_version": "2025-01",
        "website": "",
    }
    form.update(extra)
    return client.post("/subscribe", data=form)


def find(session: Session, email: str) -> Subscriber | None:
    session.expire_all()
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def activate(client: TestClient, session: Session, settings: Settings, email: str) -> Subscriber:
    subscribe(client, email)
    subscriber = find(session, email)
    assert subscriber is not None
    token = tokens.make_confirm_token(settings, subscriber.id, subscriber.confirm_nonce)
    page = client.get(f"/confirm/{token}")
    client.post(f"/confirm/{token}", data={"csrf_token": csrf_of(page.text)})
    subscriber = find(session, email)
    assert subscriber is not None and subscriber.status == "active"
    return subscriber


# --- the subscribe page ------------------------------------------------------------------------


def test_home_is_french_by_default_and_english_on_request(client: TestClient) -> None:
    french = client.get("/")
    assert french.status_code == 200
    assert '<html lang="fr">' in french.text
    assert "Abonnez-vous" in french.text
    assert "dispatch_csrf" in french.headers["set-cookie"]
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in english.text
    assert "Subscribe to our newsletter" in english.text
    assert 'lang="en">' in client.get("/?lang=en").text
    assert '<html lang="fr">' in client.get("/", headers={"Accept-Language": "de, fr;q=0.1"}).text


def test_the_form_is_accessible_markup(client: TestClient) -> None:
    html = client.get("/").text
    for topic in ("blog", "events", "onaime", "controverse", "mustread"):
        for value in ("none", "immediately", "weekly", "monthly"):
            assert f'<label for="topic-{topic}-{value}">' in html
    assert html.count("<legend>") >= 7  # topics, each topic, language
    assert '<label for="email">' in html and '<label for="consent">' in html
    assert 'class="skip" href="#main"' in html


def test_subscribing_records_a_pending_subscription_and_queues_the_email(
    client: TestClient, session: Session, queue: Queue
) -> None:
    email = address()
    response = subscribe(client, email, **{"language": "en", "page_lang": "fr"})

    assert response.status_code == 200
    assert "Check your inbox" in response.text and '<html lang="en">' in response.text
    subscriber = find(session, email)
    assert subscriber is not None and subscriber.status == "pending"
    assert subscriber.locale == "en"
    assert {p.topic.slug: p.frequency for p in subscriber.preferences} == {
        "blog": "weekly",
        "events": "immediately",
    }
    assert queue == [("audience.send_confirmation", (subscriber.id,))]
    event = session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber.id)
    ).one()
    assert event.ip == "testclient" and event.user_agent and event.consent_version == "2025-01"


def test_the_answer_is_identical_for_new_pending_and_active_addresses(
    client: TestClient, session: Session, web_settings: Settings, queue: Queue
) -> None:
    active = activate(client, session, web_settings, address())
    pending = address()
    subscribe(client, pending)
    new = address()

    def body(email: str) -> str:
        text = subscribe(client, email).text
        return text.replace(email, "EMAIL")

    queue.clear()
    answers = {body(active.email), body(pending), body(new)}
    assert len(answers) == 1
    assert [name for name, _ in queue] == [
        "audience.send_preferences_link",
        "audience.send_confirmation",
        "audience.send_confirmation",
    ]


def test_validation_errors_are_shown_next_to_the_fields(
    client: TestClient, session: Session
) -> None:
    response = subscribe(client, "pas-une-adresse", consent="")
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert "Saisissez une adresse email valide" in response.text
    assert "Cochez la case" in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="pas-une-adresse"' in response.text, "what was typed is kept"
    header_injection = subscribe(client, address(), name="Eve\r\nBcc: victim@example.org")
    assert header_injection.status_code == 400
    assert (
        session.scalar(
            select(func.count()).select_from(Subscriber).where(Subscriber.name.like("Eve%"))
        )
        == 0
    )


def test_after_a_form_error_the_other_language_is_the_form_page(client: TestClient) -> None:
    response = subscribe(client, "pas-une-adresse", consent="")
    assert response.status_code == 400
    assert 'href="/?lang=en"' in response.text
    assert client.get("/?lang=en").status_code == 200


def test_an_address_with_nothing_behind_it_is_a_page_in_the_visitors_language(
    client: TestClient,
) -> None:
    french = client.get("/rien-ici", headers={"Accept": "text/html"})
    assert french.status_code == 404
    assert french.headers["content-type"].startswith("text/html")
    assert '<html lang="fr"' in french.text and "Page introuvable" in french.text
    english = client.get("/nothing-here", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert english.status_code == 404 and "Page not found" in english.text
    # Scripts and monitors keep the short JSON answer.
    assert client.get("/rien-ici", headers={"Accept": "application/json"}).json() == {
        "detail": "Not Found"
    }


def test_posts_without_a_valid_csrf_token_are_refused(
    client: TestClient, session: Session, queue: Queue
) -> None:
    email = address()
    response = subscribe(client, email, csrf_token="forged")
    assert response.status_code == 400
    assert find(session, email) is None and queue == []
    fresh = TestClient(client.app)  # no cookie at all
    page_token = csrf_of(client.get("/").text)
    response = fresh.post(
        "/subscribe", data={"csrf_token": page_token, "email": email, "consent": "yes"}
    )
    assert response.status_code == 400
    assert find(session, email) is None


def test_robots_are_answered_like_people_and_ignored(
    client: TestClient,
    session: Session,
    queue: Queue,
    web_settings: Settings,
    engine: Engine,
) -> None:
    honeypot = address()
    response = subscribe(client, honeypot, website="https://spam.example")
    assert response.status_code == 200 and "Consultez votre boîte mail" in response.text
    assert find(session, honeypot) is None

    patient = web_settings.model_copy(update={"web": WebSettings(form_min_seconds=60)})
    slow_reader = TestClient(create_app(patient, engine=engine, doorbell=queue))
    too_fast = address()
    response = subscribe(slow_reader, too_fast)
    assert response.status_code == 200 and "Consultez votre boîte mail" in response.text
    assert find(session, too_fast) is None
    assert queue == []


def test_one_ip_cannot_post_the_form_endlessly(
    web_settings: Settings, engine: Engine, queue: Queue
) -> None:
    app = create_app(web_settings, engine=engine, doorbell=queue)
    client = TestClient(app, client=("198.51.100.7", 5000))
    statuses = [subscribe(client, address()).status_code for _ in range(32)]
    assert statuses[:30] == [200] * 30
    assert statuses[30:] == [429, 429]


# --- confirm -----------------------------------------------------------------------------------


def test_get_on_a_confirm_link_shows_a_button_and_confirms_nothing(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    email = address()
    subscribe(client, email)
    subscriber = find(session, email)
    assert subscriber is not None
    token = tokens.make_confirm_token(web_settings, subscriber.id, subscriber.confirm_nonce)

    page = client.get(f"/confirm/{token}")
    assert page.status_code == 200 and "Je confirme mon abonnement" in page.text
    assert find(session, email).status == "pending"  # type: ignore[union-attr]

    refused = client.post(f"/confirm/{token}", data={})
    assert refused.status_code == 400
    assert find(session, email).status == "pending"  # type: ignore[union-attr]

    done = client.post(f"/confirm/{token}", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Abonnement confirmé" in done.text
    assert find(session, email).status == "active"  # type: ignore[union-attr]
    assert "/preferences/" in done.text
    again = client.post(f"/confirm/{token}", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 200 and "Déjà confirmé" in again.text


def test_broken_confirm_links_say_so(client: TestClient) -> None:
    response = client.get("/confirm/not-a-token")
    assert response.status_code == 400
    assert "Lien non valide" in response.text
    assert client.post("/confirm/not-a-token", data={}).status_code == 400


# --- preferences --------------------------------------------------------------------------------


def test_the_preference_centre_changes_topics_language_and_pause(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    url = tokens.preferences_url(web_settings, subscriber.id).removeprefix("http://testserver")

    page = client.get(url)
    assert page.status_code == 200
    assert 'id="topic-blog-weekly" name="topic-blog" value="weekly" checked' in page.text
    response = client.post(
        url,
        data={
            "csrf_token": csrf_of(page.text),
            "action": "save",
            "topic-blog": "none",
            "topic-onaime": "monthly",
            "language": "en",
            "pause": "90",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == url + "?saved=1"
    saved = client.get(response.headers["location"])
    assert "Your preferences are saved." in saved.text and '<html lang="en">' in saved.text
    assert "Keep the pause until" in saved.text
    subscriber = find(session, subscriber.email)  # type: ignore[assignment]
    assert {p.topic.slug: p.frequency for p in subscriber.preferences} == {"onaime": "monthly"}
    assert subscriber.paused_until is not None and subscriber.locale == "en"


def test_the_preference_centre_turns_event_reminders_off_and_on(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    url = tokens.preferences_url(web_settings, subscriber.id).removeprefix("http://testserver")
    page = client.get(url)
    # On by default for a reader of the events topic.
    assert "Me rappeler les évènements" in page.text
    assert re.search(
        r'id="event-reminders" name="event_reminders" value="1"[^>]* checked', page.text
    )

    form = {
        "csrf_token": csrf_of(page.text),
        "action": "save",
        "topic-blog": "weekly",
        "topic-events": "immediately",
        "language": "fr",
        "pause": "0",
        "event_reminders_shown": "1",
    }
    assert client.post(url, data=form).status_code == 303  # the box left unticked
    found = find(session, subscriber.email)
    assert found is not None and found.event_reminders is False
    change = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber.id, ConsentEvent.action == "preferences")
        .order_by(ConsentEvent.id.desc())
    ).first()
    assert change is not None
    assert change.details == {"event_reminders": {"before": True, "after": False}}
    page = client.get(url)
    assert not re.search(r'name="event_reminders" value="1"[^>]* checked', page.text)

    form["csrf_token"] = csrf_of(page.text)
    assert client.post(url, data={**form, "event_reminders": "1"}).status_code == 303
    found = find(session, subscriber.email)
    assert found is not None and found.event_reminders is True


def test_preferences_need_a_valid_link_and_csrf(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    assert client.get("/preferences/forged").status_code == 404
    subscriber = activate(client, session, web_settings, address())
    url = tokens.preferences_url(web_settings, subscriber.id).removeprefix("http://testserver")
    response = client.post(url, data={"action": "save", "topic-blog": "none", "language": "fr"})
    assert response.status_code == 400
    assert find(session, subscriber.email).preferences  # type: ignore[union-attr]


def test_email_me_my_link_answers_the_same_for_anyone(
    client: TestClient, session: Session, web_settings: Settings, queue: Queue
) -> None:
    subscriber = activate(client, session, web_settings, address())
    queue.clear()

    def ask(email: str) -> str:
        token = csrf_of(client.get("/").text)
        response = client.post("/preferences/link", data={"csrf_token": token, "email": email})
        assert response.status_code == 200
        return response.text.replace(email, "EMAIL")

    assert ask(subscriber.email) == ask("inconnu@example.org")
    # The page only queued both; the worker decides, and sends to the subscriber alone.
    assert [task for task, _ in queue] == ["audience.handle_link_request"] * 2
    requests = [ids[0] for _, ids in queue]
    queue.clear()
    sessions = make_sessionmaker(client.app.state.engine)  # type: ignore[attr-defined]
    for request_id in requests:
        with sessions() as worker, worker.begin():
            worker.info[SESSION_DOORBELL] = queue
            service.handle_link_request(worker, web_settings, request_id)
    assert queue == [("audience.send_preferences_link", (subscriber.id,))]


def test_an_unsubscribed_person_can_come_back_through_double_opt_in(
    client: TestClient, session: Session, web_settings: Settings, queue: Queue
) -> None:
    subscriber = activate(client, session, web_settings, address())
    client.post(tokens.unsubscribe_url(web_settings, subscriber.id), data={"from_page": "1"})
    url = tokens.preferences_url(web_settings, subscriber.id).removeprefix("http://testserver")
    page = client.get(url)
    assert "Me réabonner" in page.text
    queue.clear()

    response = client.post(url, data={"csrf_token": csrf_of(page.text), "action": "resubscribe"})

    assert response.status_code == 200
    again = find(session, subscriber.email)
    assert again is not None and again.status == "pending"
    assert is_suppressed(session, web_settings, again.email)
    assert queue == [("audience.send_confirmation", (again.id,))]


# --- unsubscribe and RFC 8058 ------------------------------------------------------------------


def test_get_on_an_unsubscribe_link_changes_nothing(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    response = client.get(tokens.unsubscribe_url(web_settings, subscriber.id))
    assert response.status_code == 200
    assert "Me désabonner de tout" in response.text
    assert find(session, subscriber.email).status == "active"  # type: ignore[union-attr]


def test_the_unsubscribe_page_button_unsubscribes(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    response = client.post(
        tokens.unsubscribe_url(web_settings, subscriber.id), data={"from_page": "1"}
    )
    assert response.status_code == 200 and "Vous êtes désabonné·e" in response.text
    assert find(session, subscriber.email).status == "unsubscribed"  # type: ignore[union-attr]
    assert is_suppressed(session, web_settings, subscriber.email)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_rfc_8058_one_click(
    encoding: str, web_settings: Settings, engine: Engine, session: Session, queue: Queue
) -> None:
    setup = TestClient(create_app(web_settings, engine=engine, doorbell=queue))
    subscriber = activate(setup, session, web_settings, address())
    url = tokens.unsubscribe_url(web_settings, subscriber.id)
    # A mail provider's server: no cookies, no CSRF token, does not follow redirects.
    provider = TestClient(
        create_app(web_settings, engine=engine, doorbell=queue), follow_redirects=False
    )
    if encoding == "urlencoded":
        post = lambda: provider.post(url, data={"List-Unsubscribe": "One-Click"})  # noqa: E731
    else:
        post = lambda: provider.post(  # noqa: E731
            url, files={"List-Unsubscribe": (None, "One-Click")}
        )

    first, second = post(), post()

    for response in (first, second):
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert "location" not in response.headers
    assert find(session, subscriber.email).status == "unsubscribed"  # type: ignore[union-attr]
    ledger = session.scalars(
        select(ConsentEvent.source).where(
            ConsentEvent.subscriber_id == subscriber.id, ConsentEvent.action == "unsubscribe"
        )
    ).all()
    assert ledger == ["one-click (RFC 8058)"], "idempotent: one unsubscription recorded"


def test_one_click_with_a_bad_token_is_a_client_error(
    client: TestClient, web_settings: Settings
) -> None:
    good = tokens.unsubscribe_url(web_settings, 1).removeprefix("http://testserver")
    for url in (
        "/unsubscribe/forged",
        good[:-3] + "abc",
        "/unsubscribe/" + tokens.make_token(web_settings, "preferences", 1),
    ):
        response = client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert 400 <= response.status_code < 500
        assert "set-cookie" not in response.headers
    assert client.get("/unsubscribe/forged").status_code == 400


def test_token_pages_do_not_leak_their_url(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    response = client.get(tokens.preferences_url(web_settings, subscriber.id))
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_every_page_template_renders_in_both_languages(
    client: TestClient, session: Session, web_settings: Settings, tmp_path: Path
) -> None:
    subscriber = activate(client, session, web_settings, address())
    pages = [
        "/",
        tokens.preferences_url(web_settings, subscriber.id),
        tokens.unsubscribe_url(web_settings, subscriber.id),
    ]
    for lang in ("fr", "en"):
        subscriber.locale = lang
        session.merge(subscriber)
        session.commit()
        for page in pages:
            response = client.get(page, headers={"Accept-Language": lang})
            assert response.status_code == 200, page
            assert f'<html lang="{lang}">' in response.text


# --- the letter, a choice beside the topics ----------------------------------------------------


def test_the_form_says_the_letter_is_included_and_lets_readers_say_no(
    client: TestClient, session: Session
) -> None:
    html = client.get("/").text
    assert "La lettre de" in html and "Comprise" in html
    assert re.search(r'id="letter-yes" name="letter" value="yes"\s+checked', html)
    assert '<label for="letter-no">Pas de lettre</label>' in html

    topics_only = address()
    assert subscribe(client, topics_only, letter="no").status_code == 200
    found = find(session, topics_only)
    assert found is not None and found.letter is False
    included = address()
    subscribe(client, included)  # a form without the field: included, as the page says
    assert find(session, included).letter is True  # type: ignore[union-attr]

    nothing = address()
    refused = subscribe(
        client, nothing, letter="no", **{"topic-blog": "none", "topic-events": "none"}
    )
    assert refused.status_code == 400
    assert "Choisissez la lettre ou au moins un thème" in refused.text
    assert find(session, nothing) is None


def test_the_preference_centre_turns_the_letter_off(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    url = tokens.preferences_url(web_settings, subscriber.id).removeprefix("http://testserver")
    page = client.get(url)
    assert re.search(r'id="letter-yes" name="letter" value="yes"\s+checked', page.text)
    form = {
        "csrf_token": csrf_of(page.text),
        "action": "save",
        "letter": "no",
        "topic-blog": "weekly",
        "language": "fr",
        "pause": "0",
    }
    assert client.post(url, data=form).status_code == 303
    found = find(session, subscriber.email)
    assert found is not None and found.letter is False
    change = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber.id, ConsentEvent.action == "preferences")
        .order_by(ConsentEvent.id.desc())
    ).first()
    assert change is not None and change.details == {"letter": {"before": True, "after": False}}

    page = client.get(url)
    empty = client.post(url, data={**form, "csrf_token": csrf_of(page.text), "topic-blog": "none"})
    assert empty.status_code == 400 and "Pour ne rien recevoir" in empty.text


# --- « Je reste abonné·e » ---------------------------------------------------------------------


def test_the_stay_page_keeps_a_reader_only_when_its_button_is_pressed(
    client: TestClient, session: Session, web_settings: Settings
) -> None:
    subscriber = activate(client, session, web_settings, address())
    url = tokens.stay_url(web_settings, subscriber.id).removeprefix("http://testserver")
    seen = subscriber.last_engagement_at
    page = client.get(url)
    assert page.status_code == 200
    assert "Je reste abonné·e" in page.text and '<form method="post"' in page.text
    before = find(session, subscriber.email)
    assert before is not None and before.last_engagement_at == seen  # a GET changes nothing

    assert client.post(url, data={}).status_code == 400  # no form token: nothing changes
    done = client.post(url, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "Vous restez abonné·e" in done.text
    after = find(session, subscriber.email)
    assert after is not None and after.last_engagement_at > seen  # type: ignore[operator]

    assert client.get("/stay/forged").status_code == 404
    # Its own salt: a stay link is no unsubscribe link, and a preferences token no stay link.
    assert client.get(url.replace("/stay/", "/unsubscribe/")).status_code == 400
    assert client.get("/stay/" + tokens.make_token(web_settings, "preferences", 1)).status_code == (
        404
    )
    client.post("/unsubscribe/" + tokens.make_token(web_settings, "unsubscribe", subscriber.id))
    gone = client.get(url)
    assert gone.status_code == 410 and "Cet abonnement a pris fin" in gone.text
