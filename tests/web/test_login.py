"""Logging in to the staff pages: sessions, cookies, throttling, CSRF, second factor, resets."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dispatch.audit import AuditEvent
from dispatch.staff import accounts, mail, sessions, totp
from dispatch.staff.models import StaffSession
from tests import factories
from tests.web.staffsite import PASSWORD, StaffSite, csrf_of, email_of, staff_site

_seq = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffSite]:
    yield from staff_site(
        request, tmp_path_factory.mktemp("login"), backend=request.param, name="dispatch_web_login"
    )


@pytest.fixture
def fresh_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StaffSite]:
    """A site of its own, for tests whose failed attempts must not spill into the others'."""
    yield from staff_site(request, tmp_path)


def _member(site: StaffSite, *, role: str = "editor", **fields: object) -> str:
    """A new staff member of their own, so a test can change their account freely."""
    email = f"member{next(_seq)}@example.org"
    with site.session() as session:
        factories.staff(session, site.settings, role=role, email=email, **fields)
        session.commit()
    return email


def _form(client: TestClient, path: str, page: str, **fields: str) -> object:
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **fields})


def _error(html: str) -> str:
    found = re.search(r'class="field-error"[^>]*>.*?</span>\s*(.*?)</p>', html, re.S)
    assert found, "the page shows no error"
    return found.group(1).strip()


# --- logging in and out -----------------------------------------------------------------------


def test_the_login_page_speaks_french_first_and_english_when_asked(site: StaffSite) -> None:
    client = site.client()
    french = client.get("/admin/login")
    assert french.status_code == 200 and 'lang="fr"' in french.text
    assert "Se connecter" in french.text or "Connexion" in french.text
    english = client.get("/admin/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert 'lang="en"' in english.text and "Log in to dispatch" in english.text
    # A language asked for in the address stays after a wrong password.
    asked = client.get("/admin/login?lang=en")
    assert 'action="/admin/login?lang=en"' in asked.text
    wrong = client.post(
        "/admin/login?lang=en",
        data={
            "email": "nobody@example.org",
            "password": "x" * 12,
            "csrf_token": csrf_of(asked.text),
        },
    )
    assert wrong.status_code == 400 and 'lang="en"' in wrong.text
    assert "The address or the password is wrong." in wrong.text


def test_staff_pages_send_a_stranger_to_the_login_page_and_back(site: StaffSite) -> None:
    client = site.client()
    asked = client.get("/admin/editions/1/preview?width=375&locale=en")
    assert asked.status_code == 303
    assert asked.headers["location"] == (
        "/admin/login?next=/admin/editions/1/preview%3Fwidth%3D375%26locale%3Den"
    )
    page = client.get(asked.headers["location"])
    assert 'value="/admin/editions/1/preview?width=375&amp;locale=en"' in page.text
    response = site.log_in(client, email_of("viewer"), next="/admin/editions?kind=alert")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/editions?kind=alert"


@pytest.mark.parametrize(
    "target", ["https://evil.example/admin", "//evil.example/admin", "/\\evil.example", "/public"]
)
def test_after_login_the_browser_never_leaves_the_staff_pages(site: StaffSite, target: str) -> None:
    response = site.log_in(site.client(), email_of("viewer"), next=target)
    assert response.headers["location"] == "/admin/"


def test_a_session_cookie_is_http_only_lax_and_secure_over_https(site: StaffSite) -> None:
    plain = site.log_in(site.client(), email_of("viewer"))
    cookie = plain.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert f"Max-Age={site.settings.staff.session_max_hours * 3600}" in cookie
    secure_site = StaffSite(
        site.settings.model_copy(
            update={"app": site.settings.app.model_copy(update={"base_url": "https://x.example"})}
        ),
        site.engine,
    )
    secure = secure_site.log_in(secure_site.client(https=True), email_of("viewer"))
    assert "Secure" in secure.headers["set-cookie"]


def test_logging_in_opens_the_staff_home_in_the_members_language(site: StaffSite) -> None:
    english = _member(site, language="en", name="Claire")
    client = site.client()
    assert site.log_in(client, english).status_code == 303
    home = client.get("/admin/")
    assert home.status_code == 200 and 'lang="en"' in home.text and "Claire" in home.text
    assert home.headers["Cache-Control"] == "no-store"
    assert home.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]


def test_wrong_password_unknown_address_and_disabled_account_get_the_same_answer(
    site: StaffSite,
) -> None:
    disabled = _member(site)
    with site.session() as session:
        user = accounts.find(session, disabled)
        assert user is not None
        accounts.set_active(session, user, active=False)
        session.commit()
    answers = [
        site.log_in(site.client(ip="192.0.2.10"), email_of("editor"), "not the password"),
        site.log_in(site.client(ip="192.0.2.10"), "nobody@example.org", PASSWORD),
        site.log_in(site.client(ip="192.0.2.10"), disabled, PASSWORD),
    ]
    assert {a.status_code for a in answers} == {400}
    assert {_error(a.text) for a in answers} == {"L’adresse ou le mot de passe est incorrect."}
    assert all(sessions.COOKIE_NAME not in a.headers.get("set-cookie", "") for a in answers)
    with site.session() as session:
        failed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "staff.login_failed")
        ).all()
    reasons = {(e.summary["email"], e.summary["why"], e.ip) for e in failed}
    assert ("editor@example.org", "wrong password", "192.0.2.10") in reasons
    assert ("nobody@example.org", "unknown address", "192.0.2.10") in reasons
    assert (disabled, "disabled", "192.0.2.10") in reasons
    assert all("not the password" not in str(e.summary) for e in failed)


def test_logging_out_ends_the_session_on_the_server(site: StaffSite) -> None:
    client = site.browser("viewer")
    stolen = client.cookies[sessions.COOKIE_NAME]
    out = _form(client, "/admin/logout", "/admin/")
    assert out.status_code == 303 and out.headers["location"] == "/admin/login?done=out"
    assert "Vous êtes déconnecté·e." in client.get("/admin/login?done=out").text
    replay = site.client()
    replay.cookies.set(sessions.COOKIE_NAME, stolen)
    assert replay.get("/admin/").status_code == 303


def test_a_session_ends_after_its_idle_time(site: StaffSite) -> None:
    client = site.browser("viewer")
    assert client.get("/admin/").status_code == 200
    idle = timedelta(minutes=site.settings.staff.session_idle_minutes + 1)
    with site.session() as session:
        row = sessions.find_session(session, site.settings, client.cookies[sessions.COOKIE_NAME])
        assert row is not None
        session.execute(
            update(StaffSession)
            .where(StaffSession.id == row.id)
            .values(last_seen_at=row.last_seen_at - idle)
        )
        session.commit()
    assert client.get("/admin/").status_code == 303


# --- CSRF ----------------------------------------------------------------------------------------


def test_a_login_form_without_its_token_is_refused(site: StaffSite) -> None:
    client = site.client()
    client.get("/admin/login")
    forged = client.post("/admin/login", data={"email": email_of("owner"), "password": PASSWORD})
    assert forged.status_code == 400
    assert "Ce formulaire a expiré" in forged.text
    assert sessions.COOKIE_NAME not in forged.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/admin/logout", {}),
        ("/admin/account/password", {"current": PASSWORD, "password": "a new long passphrase"}),
        ("/admin/account/two-factor/start", {}),
    ],
)
def test_a_staff_form_without_the_sessions_token_changes_nothing(
    site: StaffSite, path: str, fields: dict[str, str]
) -> None:
    client = site.browser("viewer")
    for token in (None, "forged", csrf_of(site.client().get("/admin/login").text)):
        data = dict(fields, **({"csrf_token": token} if token else {}))
        refused = client.post(path, data=data)
        assert refused.status_code == 400, path
        assert "Ce formulaire a expiré" in refused.text
    assert client.get("/admin/").status_code == 200  # still logged in, password unchanged
    assert site.log_in(site.client(), email_of("viewer")).status_code == 303


# --- sessions end when the account changes -------------------------------------------------------


def test_changing_ones_password_ends_every_session_of_the_account(site: StaffSite) -> None:
    email = _member(site)
    here, elsewhere = site.client(), site.client()
    site.log_in(here, email)
    site.log_in(elsewhere, email)
    wrong = _form(
        here,
        "/admin/account/password",
        "/admin/account",
        current="not it",
        password="a new long passphrase",
    )
    assert wrong.status_code == 400 and "Le mot de passe actuel est incorrect." in wrong.text
    changed = _form(
        here,
        "/admin/account/password",
        "/admin/account",
        current=PASSWORD,
        password="a new long passphrase",
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/admin/login?done=password"
    assert elsewhere.get("/admin/").status_code == 303
    assert here.get("/admin/").status_code == 303
    assert site.log_in(site.client(), email).status_code == 400
    assert site.log_in(site.client(), email, "a new long passphrase").status_code == 303


@pytest.mark.parametrize("change", ["disable", "role"])
def test_disabling_or_changing_a_role_ends_the_members_sessions(
    site: StaffSite, change: str
) -> None:
    email = _member(site, role="editor")
    client = site.client()
    site.log_in(client, email)
    assert client.get("/admin/").status_code == 200
    with site.session() as session:
        user = accounts.find(session, email)
        assert user is not None
        if change == "disable":
            accounts.set_active(session, user, active=False)
        else:
            accounts.set_role(session, user, "viewer")
        session.commit()
    assert client.get("/admin/").status_code == 303


# --- the second factor ------------------------------------------------------------------------


def _turn_on_two_factor(site: StaffSite, client: TestClient) -> tuple[str, list[str]]:
    started = _form(client, "/admin/account/two-factor/start", "/admin/account")
    assert started.status_code == 200 and "<svg" in started.text  # the QR code, inline
    secret = re.search(r'<code[^>]*id="totp-key"[^>]*>([A-Z2-7 ]+)</code>', started.text)
    assert secret, "the page shows the key to type in when the QR code cannot be scanned"
    key = secret.group(1).replace(" ", "")
    wrong = client.post(
        "/admin/account/two-factor/confirm",
        data={"csrf_token": csrf_of(started.text), "code": "000000"},
    )
    assert wrong.status_code == 400
    confirmed = client.post(
        "/admin/account/two-factor/confirm",
        data={"csrf_token": csrf_of(started.text), "code": pyotp.TOTP(key).now()},
    )
    assert confirmed.status_code == 200
    codes = re.findall(r"\b[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}\b", confirmed.text)
    assert len(codes) == totp.RECOVERY_CODES
    return key, codes


def test_with_a_second_factor_the_password_alone_does_not_log_in(site: StaffSite) -> None:
    email = _member(site)
    setup = site.client()
    site.log_in(setup, email)
    key, codes = _turn_on_two_factor(site, setup)

    client = site.client()
    first = site.log_in(client, email, next="/admin/editions")
    assert first.status_code == 303
    assert first.headers["location"] == "/admin/login/code?next=/admin/editions"
    assert client.get("/admin/").status_code == 303  # half logged in is not logged in
    page = client.get(first.headers["location"])
    assert page.status_code == 200
    bad = client.post(
        "/admin/login/code",
        data={"csrf_token": csrf_of(page.text), "code": "123456", "next": "/admin/editions"},
    )
    assert bad.status_code == 400 and "Ce code n’est pas le bon" in bad.text
    code = pyotp.TOTP(key).now()
    good = client.post(
        "/admin/login/code",
        data={"csrf_token": csrf_of(bad.text), "code": code, "next": "/admin/editions"},
    )
    assert good.status_code == 303 and good.headers["location"] == "/admin/editions"
    assert client.get("/admin/").status_code == 200

    # The same code cannot be played again, even by someone who saw it typed.
    again = site.client()
    site.log_in(again, email)
    replayed = again.post(
        "/admin/login/code",
        data={"csrf_token": csrf_of(again.get("/admin/login/code").text), "code": code},
    )
    assert replayed.status_code == 400
    # A recovery code works, once.
    for expected in (303, 400):
        other = site.client()
        site.log_in(other, email)
        token = csrf_of(other.get("/admin/login/code").text)
        used = other.post("/admin/login/code", data={"csrf_token": token, "code": codes[0]})
        assert used.status_code == expected


# --- a new password from a link ----------------------------------------------------------------


def _reset_link(site: StaffSite, email: str) -> str:
    """The link in the email a reset request sends, as the worker builds it."""
    client = site.client()
    site.doorbell.clear()
    sent = _form(client, "/admin/password/forgot", "/admin/password/forgot", email=email)
    assert sent.status_code == 200
    [(task, (link_id,))] = site.doorbell
    assert task == mail.TASK
    with site.session() as session:
        prepared = mail.prepare(session, site.settings, link_id)
    assert prepared is not None and prepared.recipient == email
    message: Message = message_from_bytes(prepared.message)
    text = next(
        part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )
    found = re.search(r"http://testserver(/admin/password/\S+)", text)
    assert found, text
    return found.group(1)


def test_a_reset_link_sets_a_new_password_once(site: StaffSite) -> None:
    email = _member(site)
    path = _reset_link(site, email)
    client = site.client()
    page = client.get(path)
    assert page.status_code == 200 and email in page.text
    mismatch = client.post(
        path,
        data={"csrf_token": csrf_of(page.text), "password": "a long new one", "again": "other"},
    )
    assert mismatch.status_code == 400
    weak = client.post(
        path, data={"csrf_token": csrf_of(mismatch.text), "password": "short", "again": "short"}
    )
    assert weak.status_code == 400 and "au moins 12 caractères" in weak.text
    done = client.post(
        path,
        data={
            "csrf_token": csrf_of(weak.text),
            "password": "the passphrase from the link",
            "again": "the passphrase from the link",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/login?done=password"
    assert client.get(path).status_code == 410
    assert site.log_in(site.client(), email, "the passphrase from the link").status_code == 303
    assert site.log_in(site.client(), email, PASSWORD).status_code == 400


def test_asking_for_a_reset_tells_nobody_which_addresses_have_accounts(site: StaffSite) -> None:
    client = site.client()
    site.doorbell.clear()
    known = _form(
        client, "/admin/password/forgot", "/admin/password/forgot", email=email_of("author")
    )
    unknown = _form(
        client, "/admin/password/forgot", "/admin/password/forgot", email="nobody@example.org"
    )
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'(value|nonce)="[^"]*"')
    assert strip.sub("", known.text.replace(email_of("author"), "@")) == strip.sub(
        "", unknown.text.replace("nobody@example.org", "@")
    )
    assert len(site.doorbell) == 1  # only the real account gets an email


def test_a_forged_or_stale_link_shows_how_to_get_a_new_one(site: StaffSite) -> None:
    email = _member(site)
    first = _reset_link(site, email)
    second = _reset_link(site, email)
    client = site.client()
    assert client.get(first).status_code == 410  # a newer link replaced it
    assert client.get(second).status_code == 200
    forged = client.get("/admin/password/" + "x" * 40)
    assert forged.status_code == 410
    assert "/admin/password/forgot" in forged.text


def test_a_reset_link_lets_a_throttled_member_back_in(fresh_site: StaffSite) -> None:
    site = fresh_site
    email = email_of("editor")
    for n in range(site.settings.staff.login_failures):
        assert site.log_in(site.client(ip=f"198.51.100.{n}"), email, "wrong").status_code == 400
    blocked = site.log_in(site.client(ip="203.0.113.5"), email)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert "Trop d’essais manqués" in blocked.text
    path = _reset_link(site, email)
    client = site.client(ip="203.0.113.5")
    page = client.get(path)
    client.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "password": "back in with a new one",
            "again": "back in with a new one",
        },
    )
    assert (
        site.log_in(site.client(ip="203.0.113.5"), email, "back in with a new one").status_code
        == 303
    )


def test_ten_failures_from_one_address_stop_that_address_not_the_others(
    fresh_site: StaffSite,
) -> None:
    site = fresh_site
    for n in range(site.settings.staff.login_failures):
        answer = site.log_in(site.client(ip="192.0.2.66"), f"guess{n}@example.org", "x")
        assert answer.status_code == 400
    stopped = site.log_in(site.client(ip="192.0.2.66"), email_of("owner"))
    assert stopped.status_code == 429 and "Retry-After" in stopped.headers
    assert site.log_in(site.client(ip="192.0.2.67"), email_of("owner")).status_code == 303


# --- no secret in a URL -------------------------------------------------------------------------


def test_no_staff_secret_is_accepted_in_a_url(site: StaffSite) -> None:
    token = site.token("owner")
    browser = site.browser("owner")
    cookie = browser.cookies[sessions.COOKIE_NAME]
    stranger = site.client()
    for query in (f"token={token}", f"access_token={token}", f"session={cookie}"):
        assert stranger.get(f"/admin/editions?{query}").status_code == 303
        assert stranger.get(f"/api/v1/editions?{query}").status_code == 401
