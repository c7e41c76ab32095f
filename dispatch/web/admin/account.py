"""A staff member's own account: password, second factor, open sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.staff import accounts, passwords, sessions, totp
from dispatch.staff.models import StaffSession
from dispatch.web.admin import present
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.render import render
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, settings_of

router = APIRouter()


def _account_page(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    recovery_codes: list[str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    user = staff.user
    locale = user.language
    pending_key = totp.pending_secret(settings, user)
    rows = [
        {
            "id": row.id,
            "since": present.moment(row.created_at, locale, settings.app.timezone),
            "seen": present.moment(row.last_seen_at, locale, settings.app.timezone),
            "agent": present.browser(row.user_agent),
            "current": row.id == staff.row.id,
        }
        for row in sessions.open_sessions(session, user.id)
    ]
    return render(
        request,
        "admin/account.html",
        staff=staff,
        title="Your account",
        status_code=status_code,
        role_label=translate(locale, user.role),
        errors=errors or {},
        password_errors=password_errors or {},
        recovery_codes=recovery_codes,
        two_factor_since=i18n.format_date(user.totp_enabled_at, locale)
        if user.totp_enabled_at
        else "",
        codes_left=len(user.recovery_codes or []),
        pending=pending_key is not None and not recovery_codes,
        pending_key=pending_key or "",
        qr_svg=totp.qr_svg(totp.provisioning_uri(settings, user, pending_key))
        if pending_key
        else "",
        sessions=rows,
        min_length=settings.staff.password_min_length,
        notice=translate(locale, notice) if notice else None,
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    notice = {"off": "The second factor is off.", "ended": "That session is closed."}.get(
        request.query_params.get("done", "")
    )
    return _account_page(request, staff, session, notice=notice)


@router.post("/account/two-factor/start", response_class=HTMLResponse)
def two_factor_start(
    request: Request, staff: Staff = form(), session: Session = SessionDep
) -> HTMLResponse:
    totp.start(session, settings_of(request), staff.user)
    return _account_page(request, staff, session)


@router.post("/account/two-factor/confirm", response_class=HTMLResponse)
def two_factor_confirm(
    request: Request,
    staff: Staff = form(),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> HTMLResponse:
    try:
        codes = totp.confirm(session, settings_of(request), staff.user, fields.get("code", ""))
    except ValueError:
        message = translate(
            staff.user.language, "That code is not right. Type the code the app shows now."
        )
        return _account_page(request, staff, session, errors={"code": message}, status_code=400)
    return _account_page(request, staff, session, recovery_codes=codes)


@router.post("/account/two-factor/off", response_model=None)
def two_factor_off(
    request: Request,
    staff: Staff = form(),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    if not passwords.verify(staff.user.password_hash, fields.get("password", "")):
        message = translate(staff.user.language, "The password is wrong.")
        return _account_page(request, staff, session, errors={"password": message}, status_code=400)
    totp.turn_off(session, staff.user)
    return RedirectResponse("/admin/account?done=off#two-factor", status_code=303)


@router.post("/account/password", response_model=None)
def change_password(
    request: Request,
    staff: Staff = form(),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    locale = staff.user.language
    settings = settings_of(request)
    if not passwords.verify(staff.user.password_hash, fields.get("current", "")):
        errors = {"current": translate(locale, "The current password is wrong.")}
        return _account_page(request, staff, session, password_errors=errors, status_code=400)
    try:
        with session.begin_nested():
            accounts.set_password(session, settings, staff.user, fields.get("password", ""))
    except accounts.StaffError as error:
        key = (
            "This password cannot be used: at least %(length)s characters."
            if "at least" in str(error)
            else "This password cannot be used: too easy to guess."
        )
        message = translate(locale, key) % {"length": settings.staff.password_min_length}
        return _account_page(
            request, staff, session, password_errors={"password": message}, status_code=400
        )
    # Every session ended with the change, this one too: log in with the new password.
    response = RedirectResponse("/admin/login?done=password", status_code=303)
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response


@router.post("/account/sessions/{session_id}/end", response_model=None)
def end_session(session_id: int, staff: Staff = form(), session: Session = SessionDep) -> Response:
    row = session.get(StaffSession, session_id)
    if row is not None and row.user_id == staff.user.id and row.id != staff.row.id:
        sessions.close_session(session, row)
    return RedirectResponse("/admin/account?done=ended#sessions", status_code=303)
