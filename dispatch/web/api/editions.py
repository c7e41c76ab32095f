"""Editions: compose, preview, test-send, schedule, send, pause, resume, cancel, watch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from dispatch.db import utcnow
from dispatch.delivery import controls, counts, proofs
from dispatch.doorbell import ring_after_commit
from dispatch.editions import choosing, digests, drafts, links
from dispatch.editions.schedule import schedule_edition
from dispatch.staff.roles import Permission
from dispatch.web.api import schemas
from dispatch.web.api.auth import Caller, needs
from dispatch.web.api.paging import Cursor, Id, Limit, Page, page, read_cursor
from dispatch.web.api.problems import RESPONSES
from dispatch.web.deps import SessionDep, settings_of

router = APIRouter(prefix="/editions", tags=["editions"], responses=RESPONSES)
Kind = Literal["newsletter", "alert", "digest"]
Status = Literal["draft", "scheduled", "sending", "paused", "sent", "cancelled"]


def _edition(session: Session, edition_id: int) -> schemas.EditionOut:
    data = drafts.edition_as_dict(drafts.get_edition(session, edition_id))
    readers = counts.item_counts(session, edition_id)
    for item in data["items"]:
        item["readers"] = readers.get(item["id"], 0)
    return schemas.EditionOut.model_validate(data)


def _translations(
    given: Mapping[schemas.Language, schemas.TranslationIn | None] | None,
) -> dict[str, dict[str, str] | None] | None:
    if given is None:
        return None
    return {
        language: None if texts is None else texts.model_dump(exclude_none=True)
        for language, texts in given.items()
    }


def _ring_batches(session: Session, edition_id: int, count: int) -> None:
    for _ in range(count):
        ring_after_commit(session, "delivery.send_batch", edition_id)


@router.get("", summary="Editions, newest first")
def list_editions(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[Kind | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
) -> Page[schemas.EditionSummary]:
    found = drafts.list_editions(
        session, kind=kind, status=status, limit=limit + 1, before_id=read_cursor(cursor)
    )
    rows = [schemas.EditionSummary.model_validate(drafts.edition_summary(e)) for e in found]
    return page(rows, [e.id for e in found], limit)


def _headings(given: Mapping[str, Mapping[Any, str]] | None) -> dict[int, dict[str, str]] | None:
    return None if given is None else {int(key): dict(texts) for key, texts in given.items()}


@router.post("", status_code=201, summary="Create a draft")
def create_edition(
    body: schemas.EditionIn,
    caller: Caller = needs(Permission.DRAFT),
    session: Session = SessionDep,
) -> schemas.EditionOut:
    if body.items is not None:
        chosen = choosing.items_by_ids(session, body.items)
    else:
        chosen = choosing.default_items(session, since=body.since, topics=body.topics)
    edition = drafts.create_edition(
        session,
        subject=body.subject,
        intro=body.intro,
        preheader=body.preheader,
        items=chosen,
        kind=body.kind,
        topics=body.topics,
        locale=body.locale,
        send_whole=body.send_whole,
        translations=_translations(body.translations),
        headings=_headings(body.headings),
    )
    return _edition(session, edition.id)


@router.get("/{edition_id:int}", summary="One edition, its items in order")
def get_edition(
    edition_id: Id, caller: Caller = needs(), session: Session = SessionDep
) -> schemas.EditionOut:
    return _edition(session, edition_id)


@router.patch("/{edition_id:int}", summary="Change a draft or a scheduled edition")
def edit_edition(
    edition_id: Id,
    body: schemas.EditionPatch,
    caller: Caller = needs(Permission.DRAFT),
    session: Session = SessionDep,
) -> schemas.EditionOut:
    drafts.update_edition(
        session,
        edition_id,
        subject=body.subject,
        intro=body.intro,
        preheader=body.preheader,
        item_ids=body.items,
        send_whole=body.send_whole,
        translations=_translations(body.translations),
        topics=body.topics,
        headings=_headings(body.headings),
    )
    return _edition(session, edition_id)


@router.get("/{edition_id:int}/preview", summary="The email as a reader receives it")
def preview(
    edition_id: Id,
    request: Request,
    caller: Caller = needs(),
    session: Session = SessionDep,
    locale: Annotated[Literal["fr", "en"] | None, Query()] = None,
    as_email: Annotated[
        str | None, Query(alias="as", max_length=320, description="A subscriber's address")
    ] = None,
) -> schemas.PreviewOut:
    shown = proofs.preview(
        session, settings_of(request), edition_id, locale=locale, as_email=as_email
    )
    return schemas.PreviewOut(
        edition_id=shown.edition_id,
        locale=shown.locale,
        subject=shown.subject,
        recipient=shown.recipient.email,
        html=shown.rendered.html,
        text=shown.rendered.text,
    )


@router.post("/{edition_id:int}/test-send", summary="Send it, marked as a test, to these addresses")
def send_a_test(
    edition_id: Id,
    body: schemas.ProofIn,
    request: Request,
    caller: Caller = needs(Permission.DRAFT),
    session: Session = SessionDep,
) -> list[schemas.ProofOut]:
    results = proofs.send_test(
        session, settings_of(request), edition_id, body.to, locale=body.locale
    )
    return [schemas.ProofOut(address=r.address, ok=r.ok, detail=r.detail) for r in results]


@router.post("/{edition_id:int}/schedule", summary="Schedule it")
def schedule(
    edition_id: Id,
    body: schemas.ScheduleIn,
    caller: Caller = needs(Permission.SEND),
    session: Session = SessionDep,
) -> schemas.StatusOut:
    schedule_edition(session, edition_id, send_at=body.send_at)
    return schemas.StatusOut.model_validate(controls.status(session, edition_id))


@router.post("/{edition_id:int}/send", summary="Start sending now")
def send(
    edition_id: Id,
    request: Request,
    caller: Caller = needs(Permission.SEND),
    session: Session = SessionDep,
) -> schemas.StatusOut:
    result = controls.send_now(session, edition_id, settings=settings_of(request))
    _ring_batches(session, edition_id, result.batches)
    return schemas.StatusOut.model_validate(controls.status(session, edition_id))


@router.post("/{edition_id:int}/pause", summary="Pause a sending or scheduled edition")
def pause(
    edition_id: Id, caller: Caller = needs(Permission.SEND), session: Session = SessionDep
) -> schemas.StatusOut:
    controls.pause(session, edition_id)
    return schemas.StatusOut.model_validate(controls.status(session, edition_id))


@router.post("/{edition_id:int}/resume", summary="Resume a paused edition")
def resume(
    edition_id: Id, caller: Caller = needs(Permission.SEND), session: Session = SessionDep
) -> schemas.StatusOut:
    _ring_batches(session, edition_id, controls.resume(session, edition_id))
    return schemas.StatusOut.model_validate(controls.status(session, edition_id))


@router.post("/{edition_id:int}/cancel", summary="Cancel: what has not gone out will not")
def cancel(
    edition_id: Id, caller: Caller = needs(Permission.SEND), session: Session = SessionDep
) -> schemas.StatusOut:
    controls.cancel(session, edition_id)
    return schemas.StatusOut.model_validate(controls.status(session, edition_id))


@router.get("/{edition_id:int}/status", summary="Counts by status, rate and estimated end")
def status(
    edition_id: Id, caller: Caller = needs(), session: Session = SessionDep
) -> schemas.StatusOut:
    return schemas.StatusOut.model_validate(controls.status(session, edition_id))


def _digest(
    session: Session, period: Literal["weekly", "monthly"], at: datetime | None, *, build: bool
) -> schemas.DigestOut:
    moment = at or utcnow()
    plan = counts.plan_digest(session, period, at=moment)
    created = None
    if build and plan.existing_id is None and plan.receiving:
        edition = digests.create_digest(session, period, now=moment, catch_up=False)
        created = edition.id if edition is not None else None
    return schemas.DigestOut.model_validate(
        {**plan.as_dict(), "created_edition": created, "dry_run": not build}
    )


@router.get(
    "/digests/{period}",
    summary="What the weekly or monthly digest would be: its items, who would get what",
)
def digest_plan(
    period: Literal["weekly", "monthly"],
    at: Annotated[
        schemas.Instant | None, Query(description="As if it were then; default: now.")
    ] = None,
    caller: Caller = needs(),
    session: Session = SessionDep,
) -> schemas.DigestOut:
    """Each reader would get the items of their topics they have not already received; a
    reader with nothing new gets no digest. Nothing is created."""
    return _digest(session, period, at, build=False)


@router.post("/digests", status_code=201, summary="Build the weekly or monthly digest now")
def digest(
    body: schemas.DigestIn,
    caller: Caller = needs(Permission.SEND),
    session: Session = SessionDep,
) -> schemas.DigestOut:
    """The digest of the period due at `at` (default now), created and scheduled at once,
    unless it exists already or nobody has anything new (`created_edition` is then null)."""
    return _digest(session, body.period, body.at, build=True)


class LinkCountOut(BaseModel):
    url: str
    clicks: int


class LinkCountsOut(BaseModel):
    counting: bool  # mail.link_counts: off, nothing is counted
    links: list[LinkCountOut]


@router.get("/{edition_id:int}/links", summary="Clicks per link, counted in aggregate")
def link_counts(
    edition_id: Id, request: Request, caller: Caller = needs(), session: Session = SessionDep
) -> LinkCountsOut:
    drafts.get_edition(session, edition_id)
    return LinkCountsOut(
        counting=settings_of(request).mail.link_counts,
        links=[
            LinkCountOut(url=url, clicks=clicks)
            for url, clicks in links.link_counts(session, edition_id)
        ],
    )
