"""Sources, items, picks and topics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from dispatch.content import items, sources, topics
from dispatch.content.models import ContentItem, Source
from dispatch.doorbell import ring_after_commit
from dispatch.staff.roles import Permission
from dispatch.web.api import schemas
from dispatch.web.api.auth import Caller, needs
from dispatch.web.api.paging import Cursor, Id, Limit, Page, QueryId, page, read_cursor
from dispatch.web.api.problems import RESPONSES, NotFoundError
from dispatch.web.deps import SessionDep

router = APIRouter(responses=RESPONSES)


def _source(source: Source) -> schemas.SourceOut:
    return schemas.SourceOut.model_validate(sources.source_as_dict(source))


@router.get("/sources", tags=["content"], summary="Sources, with their last result and error")
def list_sources(
    caller: Caller = needs(), session: Session = SessionDep
) -> list[schemas.SourceOut]:
    return [_source(s) for s in sources.list_sources(session)]


@router.post("/sources", status_code=201, tags=["content"], summary="Add a source")
def add_source(
    body: schemas.SourceIn,
    caller: Caller = needs(Permission.CONTENT),
    session: Session = SessionDep,
) -> schemas.SourceOut:
    source = sources.add_source(
        session,
        url=body.url,
        kind=body.kind,
        topic_slugs=body.topics,
        interval_minutes=body.interval_minutes,
        name=body.name,
        announce_existing=body.announce_existing,
    )
    return _source(source)


@router.get("/sources/{source_id:int}", tags=["content"], summary="One source")
def get_source(
    source_id: Id, caller: Caller = needs(), session: Session = SessionDep
) -> schemas.SourceOut:
    return _source(sources.get_source(session, source_id))


@router.patch("/sources/{source_id:int}", tags=["content"], summary="Pause or resume a source")
def patch_source(
    source_id: Id,
    body: schemas.SourcePatch,
    caller: Caller = needs(Permission.CONTENT),
    session: Session = SessionDep,
) -> schemas.SourceOut:
    return _source(sources.set_enabled(session, source_id, enabled=body.enabled))


@router.delete(
    "/sources/{source_id:int}", status_code=204, tags=["content"], summary="Remove a source"
)
def remove_source(
    source_id: Id, caller: Caller = needs(Permission.CONTENT), session: Session = SessionDep
) -> None:
    sources.remove_source(session, source_id)


@router.post("/sources/{source_id:int}/poll", status_code=202, tags=["content"], summary="Poll now")
def poll_source(
    source_id: Id, caller: Caller = needs(Permission.CONTENT), session: Session = SessionDep
) -> schemas.PollOut:
    source = sources.get_source(session, source_id)
    queued = sources.claim_source(session, source.id)
    if queued:
        ring_after_commit(session, "content.poll_source", source.id)
    return schemas.PollOut(source_id=source.id, queued=queued)


@router.get("/items", tags=["content"], summary="Items, newest first")
def list_items(
    caller: Caller = needs(),
    session: Session = SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Annotated[Literal["post", "event", "pick"] | None, Query()] = None,
    topic: Annotated[str | None, Query(max_length=64)] = None,
    source_id: QueryId | None = None,
    since: Annotated[schemas.Instant | None, Query()] = None,
    until: Annotated[schemas.Instant | None, Query()] = None,
    q: Annotated[str, Query(max_length=200, description="Part of the title or address")] = "",
    include_unpublished: bool = False,
) -> Page[schemas.ItemOut]:
    wanted = items.ItemFilter(
        kind=kind,
        topic=topic,
        source_id=source_id,
        since=since,
        until=until,
        text=q,
        include_unpublished=include_unpublished,
    )
    found = items.search_items(session, wanted, limit=limit + 1, before_id=read_cursor(cursor))
    return page(
        [schemas.ItemOut.model_validate(items.item_as_dict(i)) for i in found],
        [i.id for i in found],
        limit,
    )


@router.get("/items/{item_id:int}", tags=["content"], summary="One item, with its sources")
def get_item(
    item_id: Id, caller: Caller = needs(), session: Session = SessionDep
) -> schemas.ItemOut:
    item = session.get(ContentItem, item_id)
    if item is None:
        raise NotFoundError(f"There is no item {item_id}.")
    return schemas.ItemOut.model_validate(items.item_as_dict(item))


@router.post("/picks", status_code=201, tags=["content"], summary="Add a curated pick")
def add_pick(
    body: schemas.PickIn, caller: Caller = needs(Permission.CONTENT), session: Session = SessionDep
) -> schemas.ItemOut:
    item = items.add_pick(
        session, url=body.url, title=body.title, tag=body.tag, comment=body.comment
    )
    return schemas.ItemOut.model_validate(items.item_as_dict(item))


@router.get("/topics", tags=["content"], summary="Topics, in their order")
def list_topics(caller: Caller = needs(), session: Session = SessionDep) -> list[schemas.TopicOut]:
    return [schemas.TopicOut.model_validate(t) for t in topics.list_topics(session)]


@router.post("/topics", status_code=201, tags=["content"], summary="Add a topic")
def add_topic(
    body: schemas.TopicIn, caller: Caller = needs(Permission.CONTENT), session: Session = SessionDep
) -> schemas.TopicOut:
    topic = topics.add_topic(
        session, body.slug, name_fr=body.name_fr, name_en=body.name_en, hashtag=body.hashtag
    )
    return schemas.TopicOut.model_validate(topic)
