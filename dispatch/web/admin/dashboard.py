"""The staff home: what is going out now, what goes next, what came in since the last
letter, and what needs someone (approvals, failing sources, bounce rates), each with its
action."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.content import desk
from dispatch.content.models import ContentItem, Source
from dispatch.db import utcnow
from dispatch.delivery import controls, results
from dispatch.editions import choosing
from dispatch.editions.models import Edition
from dispatch.social.models import SocialAccount, SocialPost
from dispatch.staff.roles import Permission, may
from dispatch.web.admin import present
from dispatch.web.admin.guard import Staff, page
from dispatch.web.admin.render import render, staff_locale
from dispatch.web.admin.words import translate
from dispatch.web.deps import SessionDep, settings_of
from dispatch.web.headers import use_policy

router = APIRouter()
#: A sent edition is flagged when more of its messages than this bounced, or complained.
BOUNCE_ALERT = 0.05
COMPLAINT_ALERT = 0.003
#: How far back bounce rates are watched.
ALERT_WINDOW = timedelta(days=30)


def _sending(session: Session, locale: str, zone: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Edition).where(Edition.status.in_(("sending", "paused"))).order_by(Edition.id)
    )
    shown = []
    for edition in rows:
        shown.append(
            {
                "edition": edition,
                "badge": present.badge(edition.status),
                "progress": present.progress(controls.status(session, edition.id), locale, zone),
            }
        )
    return shown


def _scheduled(session: Session, locale: str, zone: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Edition)
        .where(Edition.status == "scheduled")
        .order_by(Edition.send_at, Edition.id)
        .limit(5)
    )
    return [
        {
            "edition": e,
            "when": present.moment(e.send_at, locale, zone),
            "late": present.is_late(e),
        }
        for e in rows
    ]


def _awaiting(session: Session) -> dict[str, Any]:
    """What waits for someone: the desk's decisions (items on an approval or manual topic)
    and the social posts an account in approval mode holds for review."""
    decisions = desk.pending(session, limit=10)
    titles = dict(
        session.execute(
            select(ContentItem.id, ContentItem.title).where(
                ContentItem.id.in_([d.item_id for d in decisions])
            )
        ).all()
    )
    posts = session.execute(
        select(SocialPost, SocialAccount)
        .join(SocialAccount, SocialAccount.id == SocialPost.account_id)
        .where(SocialPost.status == "awaiting_approval")
        .order_by(SocialPost.id)
        .limit(10)
    ).all()
    return {
        "decisions": [(d.item_id, titles.get(d.item_id, "")) for d in decisions],
        "count": len(desk.pending(session)),
        "posts": posts,
    }


def _failing_sources(session: Session) -> list[Source]:
    return list(
        session.scalars(
            select(Source)
            .where(
                Source.removed_at.is_(None),
                or_(Source.last_status == "error", Source.consecutive_failures > 0),
            )
            .order_by(Source.consecutive_failures.desc(), Source.id)
            .limit(10)
        )
    )


def _bounce_alerts(session: Session) -> list[dict[str, Any]]:
    recent = session.scalars(
        select(Edition)
        .where(Edition.status == "sent", Edition.finished_at >= utcnow() - ALERT_WINDOW)
        .order_by(Edition.finished_at.desc())
        .limit(20)
    )
    alerts = []
    for edition in recent:
        total = results.edition_results(session, edition.id)["all"]
        if not total["sent"]:
            continue
        bounce_rate = total["bounced"] / total["sent"]
        complaint_rate = total["complaints"] / total["sent"]
        if bounce_rate > BOUNCE_ALERT or complaint_rate > COMPLAINT_ALERT:
            alerts.append(
                {
                    "edition": edition,
                    "bounce_percent": round(100 * bounce_rate, 1),
                    "complaints": total["complaints"],
                }
            )
    return alerts


def _last_letter_out(session: Session) -> datetime | None:
    """When the latest newsletter started going out (a scheduled one has not yet)."""
    return session.scalar(
        select(func.max(Edition.started_at)).where(
            Edition.kind == "newsletter", Edition.started_at.is_not(None)
        )
    )


@router.get("/", response_class=HTMLResponse, dependencies=[use_policy("staff-live")])
def home(request: Request, staff: Staff = page(), session: Session = SessionDep) -> HTMLResponse:
    settings = settings_of(request)
    locale = staff_locale(request, staff)
    zone = settings.app.timezone
    since = _last_letter_out(session) or utcnow() - choosing.FIRST_NEWSLETTER_LOOKBACK
    published = choosing.items_published_between(session, since=since, limit=200)
    return render(
        request,
        "admin/home.html",
        staff=staff,
        title="Home",
        role_label=translate(locale, staff.user.role),
        sending=_sending(session, locale, zone),
        scheduled=_scheduled(session, locale, zone),
        since=present.moment(since, locale, zone),
        published=published[:8],
        published_count=len(published),
        awaiting=_awaiting(session),
        failing=_failing_sources(session),
        alerts=_bounce_alerts(session),
        may_draft=may(staff.actor, Permission.DRAFT),
        scripts=["admin-live.js"],
    )
