"""Social posts and accounts for staff: the approval queue across accounts and networks, and
the accounts themselves.

Each post shows its length as its network counts it (`social.counting`) beside the network's
limit. SOCIAL_PREPARE may edit a post's text; SOCIAL_APPROVE approves, schedules (a date and
time in the site's zone, Europe/Paris), publishes now, cancels, and manages accounts.
Credentials typed into the account form are stored encrypted and never shown again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dispatch import i18n
from dispatch.content import topics as content_topics
from dispatch.db import utcnow
from dispatch.doorbell import ring_after_commit
from dispatch.editions.models import Edition
from dispatch.social import accounts as creds
from dispatch.social import configure, counting, service
from dispatch.social.models import SocialAccount, SocialPost
from dispatch.staff.roles import Permission, may
from dispatch.web.admin.guard import Staff, form, page
from dispatch.web.admin.render import message, render
from dispatch.web.admin.words import translate
from dispatch.web.deps import FormDep, SessionDep, settings_of
from dispatch.web.headers import use_policy

router = APIRouter()
# The queue's one script (static/social-count.js): the count while typing.
STAFF_SCRIPT = use_policy("staff-script")
PUBLISH_TASK = "social.publish_post"
QUEUE = ("awaiting_approval", "draft", "failed", "scheduled", "publishing")
SHOWN = {"queue": QUEUE, "published": ("published",), "cancelled": ("cancelled",)}
STATUS_LABELS = {
    "draft": "Draft",
    "awaiting_approval": "Awaiting approval",
    "scheduled": "Approved, scheduled",
    "publishing": "Publishing",
    "published": "post|Published",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
MODE_LABELS = {
    "automatic": "Automatic",
    "approval": "After approval",
    "off": "Off",
}
NETWORK_LABELS = {"mastodon": "Mastodon", "bluesky": "Bluesky", "linkedin": "LinkedIn"}
UNIT_LABELS = {
    "mastodon": "characters (each link counts as 23)",
    "bluesky": "characters (graphemes)",
    "linkedin": "characters",
}
CREDENTIAL_LABELS = {
    "access_token": "Access token",
    "app_password": "App password",
    "refresh_token": "Refresh token",
    "client_id": "Client id",
    "client_secret": "Client secret",
}
NOTICES = {
    "edited": "The post's text is saved.",
    "approved": "The post is approved: it goes out at its time.",
    "scheduled": "The post is scheduled.",
    "publishing": "The post is being published.",
    "cancelled": "The post is cancelled.",
    "account-added": "The account is added.",
    "account-saved": "The account is saved.",
    "account-enabled": "The account is on again.",
    "account-disabled": "The account is off: nothing is prepared or published for it.",
}


def _notice(request: Request, staff: Staff) -> str | None:
    key = NOTICES.get(request.query_params.get("done", ""))
    return translate(staff.user.language, key) if key else None


def _when(request: Request, staff: Staff, value: datetime | None) -> str:
    if value is None:
        return ""
    zone = settings_of(request).app.timezone
    return i18n.format_moment(value, staff.user.language, timezone=zone)


def count_of(network: str, text: str) -> dict[str, Any]:
    """The length as `network` counts it, its limit, and by how much it is over."""
    limit = counting.LIMITS[network].maximum
    used = counting.length(network, text) if text else 0
    return {
        "used": used,
        "limit": limit,
        "over": max(0, used - limit),
        "fits": not text or counting.fits(network, text),
        "unit": UNIT_LABELS.get(network, "characters"),
    }


def _subject(session: Session, post: SocialPost) -> tuple[str, str | None]:
    """What the post is about, and where to read it."""
    if post.item is not None:
        return post.item.title, post.item.url
    if post.edition_id is not None:
        edition = session.get(Edition, post.edition_id)
        if edition is not None:
            return edition.subject, f"/admin/editions/{edition.id}/preview"
    return "", None


def _posts(session: Session, shown: str, account_id: int | None) -> list[SocialPost]:
    found: list[SocialPost] = []
    for status in SHOWN[shown]:
        found += service.list_posts(session, status=status, account_id=account_id, limit=200)
    # The queue reads in the order posts will need someone: the oldest first.
    return sorted(found, key=lambda p: p.id, reverse=shown != "queue")


def _queue_page(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    errors: dict[int, str] | None = None,
    typed: dict[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    params = request.query_params
    shown = params.get("show") or "queue"
    shown = shown if shown in SHOWN else "queue"
    account = params.get("account", "")
    account_id = int(account) if account.isdigit() else None
    errors, typed = errors or {}, typed or {}
    cards = []
    for post in _posts(session, shown, account_id):
        title, link = _subject(session, post)
        text = typed.get(post.id, post.text)
        local = (
            i18n.local_time(post.scheduled_at) if post.scheduled_at is not None else None
        )  # the schedule form's own fields, in Paris
        cards.append(
            {
                "id": post.id,
                "account": post.account.name,
                "network": NETWORK_LABELS.get(post.account.network, post.account.network),
                "network_code": post.account.network,
                "account_enabled": post.account.enabled,
                "title": title,
                "link": link,
                "status": post.status,
                "status_label": STATUS_LABELS.get(post.status, post.status),
                "text": text,
                "count": count_of(post.account.network, text),
                "scheduled": _when(request, staff, post.scheduled_at),
                "date": local.strftime("%Y-%m-%d") if local else "",
                "time": local.strftime("%H:%M") if local else "",
                "error": post.last_error or "",
                "remote_url": post.remote_url,
                "published": _when(request, staff, post.published_at),
                "approved_by": post.approved_by or "",
                "editable": post.status in service.EDITABLE,
                "approvable": post.status in service.APPROVABLE,
                "cancellable": post.status in service.CANCELLABLE,
                "problem": errors.get(post.id, ""),
            }
        )
    return render(
        request,
        "admin/social.html",
        staff=staff,
        title="Social",
        status_code=status_code,
        cards=cards,
        shown=shown,
        account_id=account_id,
        accounts=[(a.id, a.name) for a in service.list_accounts(session)],
        statuses=STATUS_LABELS,
        can_prepare=may(staff.actor, Permission.SOCIAL_PREPARE),
        can_approve=may(staff.actor, Permission.SOCIAL_APPROVE),
        notice=_notice(request, staff),
    )


@router.get("/social", response_class=HTMLResponse, dependencies=[STAFF_SCRIPT])
def queue(request: Request, staff: Staff = page(), session: Session = SessionDep) -> HTMLResponse:
    return _queue_page(request, staff, session)


def _back(post_id: int, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/social?done={notice}#post-{post_id}", status_code=303)


def _refused(
    request: Request,
    staff: Staff,
    session: Session,
    post_id: int,
    error: Exception,
    typed: dict[int, str] | None = None,
) -> HTMLResponse:
    return _queue_page(
        request, staff, session, errors={post_id: str(error)}, typed=typed, status_code=400
    )


@router.post("/social/posts/{post_id:int}/edit", response_model=None)
def edit(
    post_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_PREPARE),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    text = fields.get("text", "").replace("\r\n", "\n")
    try:
        with session.begin_nested():
            service.edit_post(session, post_id, text, settings_of(request))
    except service.SocialError as error:
        return _refused(request, staff, session, post_id, error, typed={post_id: text})
    return _back(post_id, "edited")


@router.post("/social/posts/{post_id:int}/approve", response_model=None)
def approve(
    post_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> Response:
    """Approved: it goes out at its time; if that time has come, a worker is asked at once."""
    try:
        with session.begin_nested():
            post = service.approve_post(session, post_id)
    except service.SocialError as error:
        return _refused(request, staff, session, post_id, error)
    if post.scheduled_at is not None and post.scheduled_at <= utcnow():
        ring_after_commit(session, PUBLISH_TASK, post_id)
    return _back(post_id, "approved")


@router.post("/social/posts/{post_id:int}/schedule", response_model=None)
def schedule(
    post_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    zone = settings_of(request).app.timezone
    typed = f"{fields.get('date', '').strip()} {fields.get('time', '').strip() or '09:00'}"
    try:
        at = i18n.parse_local(typed, timezone=zone)
    except ValueError:
        problem = translate(
            staff.user.language, "Give a date and a time, like 2026-12-01 and 09:00."
        )
        return _refused(request, staff, session, post_id, ValueError(problem))
    try:
        with session.begin_nested():
            service.schedule_post(session, post_id, at=at)
    except service.SocialError as error:
        return _refused(request, staff, session, post_id, error)
    return _back(post_id, "scheduled")


@router.post("/social/posts/{post_id:int}/publish", response_model=None)
def publish(
    post_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> Response:
    """Approved for now and handed to a worker at once, as the API's publish does."""
    try:
        with session.begin_nested():
            post = service.get_post(session, post_id)
            if post.status != "scheduled" or post.scheduled_at is None:
                service.approve_post(session, post_id)
            else:
                post.scheduled_at = utcnow()
                session.flush()
    except service.SocialError as error:
        return _refused(request, staff, session, post_id, error)
    ring_after_commit(session, PUBLISH_TASK, post_id)
    return _back(post_id, "publishing")


@router.post("/social/posts/{post_id:int}/cancel", response_model=None)
def cancel(
    post_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> Response:
    try:
        with session.begin_nested():
            service.cancel_post(session, post_id)
    except service.SocialError as error:
        return _refused(request, staff, session, post_id, error)
    return _back(post_id, "cancelled")


# --- accounts --------------------------------------------------------------------------------


def _topics(session: Session, locale: str) -> list[dict[str, str]]:
    return [
        {"slug": t.slug, "name": t.name_fr if locale == "fr" else t.name_en}
        for t in content_topics.list_topics(session)
    ]


def _accounts_page(
    request: Request,
    staff: Staff,
    session: Session,
    *,
    values: dict[str, Any] | None = None,
    error: str = "",
) -> HTMLResponse:
    settings = settings_of(request)
    rows = []
    for account in service.list_accounts(session):
        row = service.account_as_dict(account, settings)
        row["network_label"] = NETWORK_LABELS.get(account.network, account.network)
        row["mode_label"] = MODE_LABELS.get(account.mode, account.mode)
        row["topics_label"] = ", ".join(row["topics"])
        rows.append(row)
    return render(
        request,
        "admin/social-accounts.html",
        staff=staff,
        title="Social accounts",
        status_code=400 if error else 200,
        rows=rows,
        values=values or {"network": "mastodon", "mode": "approval", "language": "fr"},
        error=error,
        networks=NETWORK_LABELS,
        modes=MODE_LABELS,
        topics=_topics(session, staff.user.language),
        credential_fields=creds.CREDENTIAL_FIELDS,
        credential_labels=CREDENTIAL_LABELS,
        can_manage=may(staff.actor, Permission.SOCIAL_APPROVE),
        notice=_notice(request, staff),
    )


@router.get("/social/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request, staff: Staff = page(), session: Session = SessionDep
) -> HTMLResponse:
    return _accounts_page(request, staff, session)


def _delay(fields: dict[str, str]) -> int:
    value = fields.get("delay_minutes", "0").strip() or "0"
    if not value.isdigit():
        raise service.SocialError("the delay is a number of minutes")
    return int(value)


def _chosen(fields: dict[str, str], session: Session) -> list[str]:
    slugs = [t.slug for t in content_topics.list_topics(session)]
    return [slug for slug in slugs if fields.get(f"topic-{slug}") == "on"]


@router.post("/social/accounts", response_model=None)
def add_account(
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    """A new account; the secrets typed are encrypted before they are stored."""
    network = fields.get("network", "")
    wanted = creds.CREDENTIAL_FIELDS.get(network, ())
    secrets = {name: fields.get(f"{network}-{name}", "") for name in wanted}
    secrets = {k: v for k, v in secrets.items() if v.strip()}
    values = {k: v for k, v in fields.items() if "-" not in k or k.startswith("topic-")}
    try:
        with session.begin_nested():
            account = configure.add(
                session,
                settings_of(request),
                service.AccountSpec(
                    network=network,
                    name=fields.get("name", ""),
                    base_url=fields.get("base_url", ""),
                    handle=fields.get("handle", ""),
                    mode=fields.get("mode", "approval"),
                    delay_minutes=_delay(fields),
                    language=fields.get("language", "fr"),
                    topic_slugs=_chosen(fields, session),
                    credentials_env=fields.get("credentials_env", "").strip() or None,
                    credentials=secrets or None,
                ),
            )
    except service.SocialError as error:
        # The secrets are not sent back into the form: they are typed again.
        return _accounts_page(request, staff, session, values=values, error=str(error))
    return RedirectResponse(
        f"/admin/social/accounts?done=account-added#account-{account.id}", status_code=303
    )


def _account(session: Session, account_id: int) -> SocialAccount | None:
    return session.get(SocialAccount, account_id)


@router.get("/social/accounts/{account_id:int}", response_class=HTMLResponse)
def account_page(
    account_id: int,
    request: Request,
    staff: Staff = page(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
) -> HTMLResponse:
    account = _account(session, account_id)
    if account is None:
        return message(
            request,
            staff=staff,
            title="Page not found",
            paragraphs=["There is nothing at this address."],
            status_code=404,
            link=("/admin/social/accounts", "Back to the social accounts"),
        )
    return _account_form(request, staff, session, account)


def _account_form(
    request: Request, staff: Staff, session: Session, account: SocialAccount, error: str = ""
) -> HTMLResponse:
    row = service.account_as_dict(account, settings_of(request))
    return render(
        request,
        "admin/social-account.html",
        staff=staff,
        title="Social account",
        status_code=400 if error else 200,
        account=row,
        network_label=NETWORK_LABELS.get(account.network, account.network),
        modes=MODE_LABELS,
        topics=_topics(session, staff.user.language),
        error=error,
    )


@router.post("/social/accounts/{account_id:int}", response_model=None)
def save_account(
    account_id: int,
    request: Request,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    account = _account(session, account_id)
    if account is None:
        return RedirectResponse("/admin/social/accounts", status_code=303)
    try:
        with session.begin_nested():
            configure.change(
                session,
                account_id,
                mode=fields.get("mode", ""),
                delay_minutes=_delay(fields),
                language=fields.get("language", ""),
                topic_slugs=_chosen(fields, session),
            )
    except service.SocialError as error:
        session.refresh(account)
        return _account_form(request, staff, session, account, str(error))
    return RedirectResponse(
        f"/admin/social/accounts?done=account-saved#account-{account_id}", status_code=303
    )


@router.post("/social/accounts/{account_id:int}/enabled", response_model=None)
def set_enabled(
    account_id: int,
    staff: Staff = form(Permission.SOCIAL_APPROVE),
    session: Session = SessionDep,
    fields: dict[str, str] = FormDep,
) -> Response:
    on = fields.get("enabled") == "on"
    try:
        configure.set_enabled(session, account_id, enabled=on)
    except service.SocialError:
        return RedirectResponse("/admin/social/accounts", status_code=303)
    notice = "account-enabled" if on else "account-disabled"
    return RedirectResponse(
        f"/admin/social/accounts?done={notice}#account-{account_id}", status_code=303
    )
