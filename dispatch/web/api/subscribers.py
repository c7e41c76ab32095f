"""Subscribers: search, one person with their consent history, add, import, export, erase."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session

from dispatch.audience import importexport, records, service
from dispatch.audience.consent import Origin
from dispatch.audience.models import Subscriber
from dispatch.staff.roles import Permission
from dispatch.web.api import schemas
from dispatch.web.api.auth import Caller, needs
from dispatch.web.api.paging import Cursor, Id, Limit, Page, page, read_cursor
from dispatch.web.api.problems import RESPONSES, NotFoundError, problem
from dispatch.web.deps import SessionDep, client_ip, settings_of

router = APIRouter(prefix="/subscribers", tags=["subscribers"], responses=RESPONSES)
Status = Literal["pending", "active", "unsubscribed", "bounced", "complained"]
MAX_IMPORT_BYTES = 5_000_000


def _subscriber(session: Session, subscriber_id: int) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFoundError(f"There is no subscriber {subscriber_id}.")
    return subscriber


@router.get("", summary="Subscribers, newest first")
def search(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    q: Annotated[str, Query(max_length=200, description="Part of an address or a name")] = "",
    status: Annotated[Status | None, Query()] = None,
    topic: Annotated[str | None, Query(max_length=64)] = None,
    frequency: Annotated[schemas.Frequency | None, Query()] = None,
    language: Annotated[schemas.Language | None, Query()] = None,
) -> Page[schemas.SubscriberOut]:
    wanted = records.SubscriberFilter(
        text=q, status=status, topic=topic, frequency=frequency, language=language
    )
    found = records.search_subscribers(
        session, wanted, limit=limit + 1, before_id=read_cursor(cursor)
    )
    rows = [schemas.SubscriberOut.model_validate(records.subscriber_record(s)) for s in found]
    return page(rows, [s.id for s in found], limit)


@router.post("", status_code=201, summary="Add someone who agreed elsewhere")
def add(
    body: schemas.SubscriberIn,
    request: Request,
    caller: Caller = needs(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> schemas.SubscriberOut:
    wanted = service.SubscriptionRequest(
        email=body.email, name=body.name, locale=body.language, topics=dict(body.topics)
    )
    origin = Origin(source=body.consent_source, ip=client_ip(request), user_agent="API")
    subscriber = records.add_subscriber(
        session, settings_of(request), wanted, origin, welcome=body.welcome
    )
    return schemas.SubscriberOut.model_validate(records.subscriber_record(subscriber))


@router.get("/export", summary="Everyone (or one status), as JSON")
def export(
    caller: Caller = needs(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    status: Annotated[Status | None, Query()] = None,
) -> list[schemas.SubscriberOut]:
    rows = importexport.export_records(session, status=status)
    return [schemas.SubscriberOut.model_validate(row) for row in rows]


@router.get(
    "/export.csv",
    summary="Everyone (or one status), as CSV (the import's columns)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_csv(
    caller: Caller = needs(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
    status: Annotated[Status | None, Query()] = None,
) -> PlainTextResponse:
    buffer = io.StringIO()
    importexport.write_csv(importexport.export_records(session, status=status), buffer)
    return PlainTextResponse(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'},
    )


@router.post(
    "/import",
    response_model=schemas.ImportOut,
    summary="Import a CSV (every row, or none if one is invalid)",
    description="Columns: email, name, language (fr|en), topics (`blog:weekly;events`). "
    "If any row is invalid nothing is added: the answer is 422 and `errors` lists each row "
    "(`line`, `email`, `reason`). Existing and suppressed addresses are skipped, not errors. "
    "Imported people get no email unless `welcome=true`; their consent is recorded as imported.",
)
def import_csv(
    body: Annotated[bytes, Body(media_type="text/csv", description="The CSV file")],
    request: Request,
    consent_source: Annotated[str, Query(min_length=1, max_length=200)],
    dry_run: bool = False,
    welcome: bool = False,
    caller: Caller = needs(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> schemas.ImportOut | JSONResponse:
    if len(body) > MAX_IMPORT_BYTES:
        raise HTTPException(413, "The file is larger than 5 MB.")
    text = body.decode("utf-8-sig", errors="replace")
    report = importexport.import_subscribers(
        session,
        settings_of(request),
        text,
        consent_source=consent_source,
        dry_run=dry_run,
        welcome=welcome,
    )

    def notes(found: list[importexport.RowNote]) -> list[schemas.ImportNote]:
        return [schemas.ImportNote(line=n.line, email=n.email, reason=n.reason) for n in found]

    if report.errors:
        return problem(
            422,
            "Invalid input",
            f"{len(report.errors)} row(s) cannot be imported; nothing was added.",
            errors=[n.model_dump() for n in notes(report.errors)],
        )
    return schemas.ImportOut(
        added=report.added,
        skipped=notes(report.skipped),
        errors=[],
        dry_run=dry_run,
    )


@router.get("/{subscriber_id:int}", summary="One subscriber with their consent history")
def show(
    subscriber_id: Id,
    request: Request,
    caller: Caller = needs(),
    session: Session = SessionDep,
) -> schemas.SubscriberDetail:
    subscriber = _subscriber(session, subscriber_id)
    data = records.person(session, settings_of(request), subscriber)
    return schemas.SubscriberDetail.model_validate(
        {
            **data["subscriber"],
            "suppressed": data["suppressed"],
            "consent_history": data["consent_history"],
        }
    )


@router.delete("/{subscriber_id:int}", summary="Erase: only a suppression hash is kept")
def erase(
    subscriber_id: Id,
    request: Request,
    caller: Caller = needs(Permission.SUBSCRIBERS),
    session: Session = SessionDep,
) -> schemas.ErasedOut:
    subscriber = _subscriber(session, subscriber_id)
    found = records.erase(
        session, settings_of(request), subscriber.email, Origin(source=f"API: {caller.user.email}")
    )
    return schemas.ErasedOut(found=found)
