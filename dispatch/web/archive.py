"""The public archive: sent newsletters readable online, with no reader's personal links."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.delivery.prepared import prepare
from dispatch.editions.compose import CompositionError, personalise
from dispatch.editions.models import Edition
from dispatch.editions.views import RecipientView
from dispatch.i18n import format_date, normalise_locale
from dispatch.web.deps import SessionDep
from dispatch.web.headers import use_policy
from dispatch.web.pages import page, visitor_locale

router = APIRouter()
PUBLIC_STATUSES = ("sending", "sent")


def _public(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None or edition.kind != "newsletter" or edition.status not in PUBLIC_STATUSES:
        raise HTTPException(status_code=404)
    return edition


@router.get("/archive", response_class=HTMLResponse)
def archive_index(request: Request, session: Session = SessionDep) -> HTMLResponse:
    locale = visitor_locale(request)
    editions = session.scalars(
        select(Edition)
        .where(Edition.kind == "newsletter", Edition.status.in_(PUBLIC_STATUSES))
        .order_by(Edition.started_at.desc().nulls_last(), Edition.id.desc())
        .limit(200)
    ).all()
    rows = [
        {
            "id": e.id,
            "subject": e.subject,
            "date": format_date(e.started_at or e.created_at, locale),
        }
        for e in editions
    ]
    return page(
        request,
        "public/archive.html",
        locale=locale,
        title="Past newsletters",
        with_form=False,
        switch_language=True,
        editions=rows,
    )


# The email as sent has inline styles: the "email" policy (no script, no form, no framing).
@router.get(
    "/archive/{edition_id}", response_class=HTMLResponse, dependencies=[use_policy("email")]
)
def archive_edition(
    edition_id: int, request: Request, session: Session = SessionDep
) -> HTMLResponse:
    """The newsletter as sent, with the subscribe page in place of personal links."""
    settings = request.app.state.settings
    edition = _public(session, edition_id)
    try:
        lang = visitor_locale(request)
        compiled = prepare(session, edition.id, settings).compilation.for_locale(lang)
    except (CompositionError, KeyError) as exc:
        raise HTTPException(status_code=404) from exc
    subscribe = settings.app.base_url.rstrip("/") + "/"
    reader = RecipientView(
        email="",
        name="",
        locale=normalise_locale(edition.locale or lang),
        unsubscribe_url=subscribe,
        preferences_url=subscribe,
        topics=frozenset(),
    )
    return HTMLResponse(personalise(compiled, reader).html)
