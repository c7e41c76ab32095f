"""The JSON API, `/api/v1`: everything staff do, for the website, scripts and other tools.

A thin layer over the same services the command line and the back office use: no rule lives
here. Bearer tokens (`dispatch staff token create`) or the back office's session; cursor
pagination; RFC 9457 problem details; ISO 8601 times with offsets. The OpenAPI 3.1 document
is at `/api/v1/openapi.json`, its reading at `/api/v1/docs`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from dispatch.web.api import admin, content, desk, docs, editions, problems, social, subscribers

DESCRIPTION = """Everything staff do in dispatch, over HTTP.

**Authentication.** Send an API token as `Authorization: Bearer dsp_…` (make one with
`dispatch staff token create EMAIL --name "…" --scope read|write`). A token acts for its
staff member: their role applies (owner, editor, author, viewer), narrowed by the token's
scope (a `read` token only reads). The back office's own calls use the staff session cookie
and send `X-CSRF-Token`.

**Errors** are `application/problem+json` (RFC 9457): `title`, `status`, `detail` (the
sentence a person can act on) and, for invalid input, `errors`.

**Lists** are newest first; pass the `next_cursor` of a page as `cursor` to get the next one.

**Times** are ISO 8601 with their offset; times you send must carry one.
"""


def create_api(state: Any) -> FastAPI:
    """The API as its own app (mounted at /api/v1), sharing the web app's state."""
    api = FastAPI(
        title="dispatch API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state = state
    problems.install(api)
    for module in (content, desk, editions, subscribers, social, admin):
        api.include_router(module.router)
    api.include_router(docs.router)
    return api
