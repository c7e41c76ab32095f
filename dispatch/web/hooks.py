"""Webhooks: WordPress tells dispatch a post changed, so it is polled at once."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from dispatch.content import sources
from dispatch.doorbell import ring_after_commit
from dispatch.web.deps import SessionDep

router = APIRouter()
log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Dispatch-Signature"
MAX_BODY = 64 * 1024


def sign(secret: str, body: bytes) -> str:
    """The header value WordPress must send: "sha256=" + HMAC-SHA256(secret, raw body) in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def _body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than a webhook ever needs."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


@router.post("/hooks/wordpress", status_code=202)
def wordpress_hook(
    request: Request, body: bytes | None = Depends(_body), session: Session = SessionDep
) -> JSONResponse:
    # A plain function: FastAPI runs it in a thread, so a busy database never blocks the app.
    settings = request.app.state.settings
    secret = settings.security.webhook_secret
    key = secret.get_secret_value() if secret is not None else ""
    given = request.headers.get(SIGNATURE_HEADER, "").encode("ascii", "replace")
    # No secret configured means the webhook is off: an empty key would let anyone sign.
    if not key or body is None or not hmac.compare_digest(given, sign(key, body).encode()):
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
    url = str(payload.get("url") or payload.get("post_url") or payload.get("site_url") or "")
    source = sources.find_source_for_url(session, url) if url else None
    if source is None:
        return JSONResponse({"error": f"no source matches {url!r}"}, status_code=404)
    source_id = source.id
    claimed = sources.claim_source(session, source_id)
    if claimed:
        # After commit: the worker polls it; if that task is lost, the claim expires and the
        # next beat tick picks the source up.
        ring_after_commit(session, "content.poll_source", source_id)
    log.info(
        "wordpress webhook for source %s: poll %s",
        source_id,
        "queued" if claimed else "already running",
    )
    return JSONResponse({"source": source_id, "queued": claimed}, status_code=202)
