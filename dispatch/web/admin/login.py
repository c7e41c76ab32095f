"""Logging in and out, the second factor, and setting a password from a one-time link.

Before login, forms carry the public pages' double-submit CSRF token; after, the session's.
A wrong address, a wrong password and a disabled account get the same answer. Past the
failure limit the answer is 429 with `Retry-After`, and the password is not even checked.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch import ratelimit
from dispatch.audit import acting
from dispatch.doorbell import ring_after_commit
from dispatch.staff import accounts, login, mail, sessions
from dispatch.staff.roles import actor_for
from dispatch.web import csrf
from dispatch.web.admin.guard import Staff, find_staff, form
from dispatch.web.admin.render import render, staff_locale
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, client_ip, settings_of

router = APIRouter()
FORGOT_PER_IP_PER_HOUR = 10


def _safe_next(value: str | None) -> str:
    """Only a staff page of this site: never an open redirect."""
    if not value:
        return "/admin/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or "\\" in value:
        return "/admin/"
    return value


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = settings_of(request)
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=settings.staff.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.app.base_url.startswith("https://"),
        path="/",
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def _fresh_form(request: Request, session: Session, fields: dict[str, str]) -> bool:
    """The form's token checks out and was never used: a replayed login post is refused."""
    token = fields.get("csrf_token")
    return csrf.accept(session, settings_of(request), request, token) is not None


def _too_many(locale: str, error: login.TooManyAttemptsError) -> str:
    minutes = max(1, round(error.retry_after / 60))
    return translate(
        locale,
        "Too many failed attempts. Try again in %(minutes)s minutes, or set a new "
        "password from the link below.",
    ) % {"minutes": minutes}


def _login_page(
    request: Request,
    *,
    email: str = "",
    next_path: str = "/admin/",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    notice: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = render(
        request,
        "admin/login.html",
        staff=None,
        title="Log in to dispatch",
        status_code=status_code,
        email=email,
        next=next_path,
        errors=errors or {},
        notice=notice,
    )
    response.headers.update(headers or {})
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: Session = SessionDep) -> Response:
    if find_staff(request, session) is not None:
        return _redirect(_safe_next(request.query_params.get("next")))
    locale = staff_locale(request, None)
    notice = {
        "out": "You are logged out.",
        "password": "Your password is saved. Log in with it now.",
    }.get(request.query_params.get("done", ""))
    return _login_page(
        request,
        next_path=_safe_next(request.query_params.get("next")),
        notice=translate(locale, notice) if notice else None,
    )


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> Response:
    settings = settings_of(request)
    locale = staff_locale(request, None)
    email = fields.get("email", "").strip()[:320]
    next_path = _safe_next(fields.get("next"))
    if not _fresh_form(request, session, fields):
        errors = {"form": translate(locale, "This form has expired. Please send it again.")}
        return _login_page(
            request, email=email, next_path=next_path, errors=errors, status_code=400
        )
    if not email or not fields.get("password"):
        errors = {"email": translate(locale, "Enter your email address and your password.")}
        return _login_page(
            request, email=email, next_path=next_path, errors=errors, status_code=400
        )
    ip = client_ip(request)
    try:
        user = login.check_password(
            session, settings, email=email, password=fields.get("password", ""), ip=ip
        )
    except login.TooManyAttemptsError as error:
        return _login_page(
            request,
            email=email,
            next_path=next_path,
            errors={"email": _too_many(locale, error)},
            status_code=429,
            headers={"Retry-After": str(error.retry_after)},
        )
    except login.LoginError:
        # The failure was counted in this request's unit of work, which commits.
        errors = {"email": translate(locale, "The address or the password is wrong.")}
        return _login_page(
            request, email=email, next_path=next_path, errors=errors, status_code=400
        )
    agent = request.headers.get("user-agent")
    if user.totp_enabled_at is not None:
        _row, token = sessions.open_session(
            session, settings, user, level="password", ip=ip, user_agent=agent
        )
        response = _redirect(f"/admin/login/code?next={quote(next_path, safe='/')}")
    else:
        _row, token = sessions.open_session(session, settings, user, ip=ip, user_agent=agent)
        login.logged_in(session, user, ip=ip)
        response = _redirect(next_path)
    _set_session_cookie(request, response, token)
    return response


def _half_logged_in(request: Request, session: Session) -> Staff | None:
    return find_staff(request, session, level="password")


@router.get("/login/code", response_class=HTMLResponse)
def code_page(request: Request, session: Session = SessionDep) -> Response:
    if _half_logged_in(request, session) is None:
        return _redirect("/admin/login")
    return render(
        request,
        "admin/code.html",
        staff=None,
        title="Second step: your code",
        next=_safe_next(request.query_params.get("next")),
    )


@router.post("/login/code", response_class=HTMLResponse)
def code_submit(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> Response:
    pending = _half_logged_in(request, session)
    if pending is None:
        return _redirect("/admin/login")
    settings = settings_of(request)
    locale = staff_locale(request, None)
    next_path = _safe_next(fields.get("next"))
    if not _fresh_form(request, session, fields):
        errors = {"code": translate(locale, "This form has expired. Please send it again.")}
        return render(
            request,
            "admin/code.html",
            staff=None,
            title="Second step: your code",
            next=next_path,
            errors=errors,
            status_code=400,
        )
    ip = client_ip(request)
    try:
        login.check_code(session, settings, pending.user, fields.get("code", ""), ip=ip)
    except (login.LoginError, login.TooManyAttemptsError) as error:
        throttled = isinstance(error, login.TooManyAttemptsError)
        message = (
            _too_many(locale, error)
            if isinstance(error, login.TooManyAttemptsError)
            else translate(locale, "That code is not right. Type the code the app shows now.")
        )
        response = render(
            request,
            "admin/code.html",
            staff=None,
            title="Second step: your code",
            next=next_path,
            errors={"code": message},
            status_code=429 if throttled else 400,
        )
        if isinstance(error, login.TooManyAttemptsError):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    token = sessions.raise_level(session, pending.row)
    login.logged_in(session, pending.user, ip=ip)
    done = _redirect(next_path)
    _set_session_cookie(request, done, token)
    return done


@router.post("/logout")
def logout(request: Request, staff: Staff = form(), session: Session = SessionDep) -> Response:
    sessions.close_session(session, staff.row)
    response = _redirect("/admin/login?done=out")
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response


# --- passwords from a link -------------------------------------------------------------------


@router.get("/password/forgot", response_class=HTMLResponse)
def forgot_page(request: Request) -> HTMLResponse:
    return render(request, "admin/forgot.html", staff=None, title="Set a new password", email="")


@router.post("/password/forgot", response_class=HTMLResponse)
def forgot_submit(
    request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> HTMLResponse:
    settings = settings_of(request)
    locale = staff_locale(request, None)
    email = fields.get("email", "").strip()[:320]
    if not _fresh_form(request, session, fields) or "@" not in email:
        key = (
            "This form has expired. Please send it again."
            if "@" in email
            else ("Enter a valid email address, like name@example.org.")
        )
        return render(
            request,
            "admin/forgot.html",
            staff=None,
            title="Set a new password",
            email=email,
            errors={"email": translate(locale, key)},
            status_code=400,
        )
    ip = client_ip(request) or "-"
    allowed = ratelimit.hit(
        session, f"staff-forgot:{ip}", window_seconds=3600, limit=FORGOT_PER_IP_PER_HOUR
    )
    user = accounts.find(session, email)
    if allowed and user is not None and user.active:
        link = accounts.create_link(session, settings, user, "reset")
        ring_after_commit(session, mail.TASK, link.id)
    # The same page whoever asks: it tells nobody which addresses have accounts.
    return render(
        request,
        "admin/forgot.html",
        staff=None,
        title="Set a new password",
        email=email,
        sent=True,
        hours=settings.staff.reset_hours,
    )


def _password_page(
    request: Request,
    token: str,
    *,
    email: str = "",
    invalid: bool = False,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "admin/password.html",
        staff=None,
        title="This link does not work any more" if invalid else "Choose your password",
        status_code=status_code,
        invalid=invalid,
        email=email,
        errors=errors or {},
        action=f"/admin/password/{token}",
        min_length=settings_of(request).staff.password_min_length,
    )


@router.get("/password/{token}", response_class=HTMLResponse)
def password_page(token: str, request: Request, session: Session = SessionDep) -> HTMLResponse:
    try:
        link = accounts.read_link(session, settings_of(request), token)
    except accounts.StaffError:
        return _password_page(request, token, invalid=True, status_code=410)
    return _password_page(request, token, email=link.user.email)


@router.post("/password/{token}", response_class=HTMLResponse)
def password_submit(
    token: str, request: Request, session: Session = SessionDep, fields: dict[str, str] = FormDep
) -> Response:
    settings = settings_of(request)
    locale = staff_locale(request, None)
    try:
        link = accounts.read_link(session, settings, token)
    except accounts.StaffError:
        return _password_page(request, token, invalid=True, status_code=410)
    email = link.user.email
    if not _fresh_form(request, session, fields):
        errors = {"password": translate(locale, "This form has expired. Please send it again.")}
        return _password_page(request, token, email=email, errors=errors, status_code=400)
    password = fields.get("password", "")
    if password != fields.get("again", ""):
        errors = {"again": translate(locale, "The two passwords are not the same.")}
        return _password_page(request, token, email=email, errors=errors, status_code=400)
    acting(session, actor_for(link.user, via="web", ip=client_ip(request)))
    try:
        with session.begin_nested():
            accounts.use_link(session, settings, token, password)
    except accounts.StaffError as error:
        detail = str(error).removeprefix("This password cannot be used: ").rstrip(".")
        key = (
            "This password cannot be used: at least %(length)s characters."
            if detail.startswith("at least")
            else "This password cannot be used: too easy to guess."
        )
        errors = {
            "password": translate(locale, key) % {"length": settings.staff.password_min_length}
        }
        return _password_page(request, token, email=email, errors=errors, status_code=400)
    login.clear_failures(session, settings, email)
    return _redirect("/admin/login?done=password")
