"""Cursor pagination: `?limit=` and the `next_cursor` of the previous page, newest first.

A cursor is opaque to clients (base64 of the last id seen); a page holds rows with smaller
ids, so rows added meanwhile never shift a page and none is seen twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Generic, TypeVar

from fastapi import HTTPException, Path, Query
from pydantic import BaseModel

T = TypeVar("T")
#: Row ids are 32-bit on PostgreSQL: a larger number names nothing, and must not reach SQL.
MAX_ID = 2**31 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=200, description="How many at most (1–200).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def read_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==="))
        before = int(data["before"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as error:
        raise HTTPException(400, "This cursor is not one this API gave.") from error
    if not 1 <= before <= MAX_ID:
        raise HTTPException(400, "This cursor is not one this API gave.")
    return before


def make_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": last_id}).encode()).decode().rstrip("=")


def page(items: list[T], ids: list[int], limit: int) -> Page[T]:
    """`limit + 1` rows were read: the extra one says whether there is a next page."""
    if len(items) > limit:
        return Page(items=items[:limit], next_cursor=make_cursor(ids[limit - 1]))
    return Page(items=items)
