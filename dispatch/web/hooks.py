"""Webhooks: WordPress tells dispatch a post changed, so its source is polled at once.

A call carries `X-Dispatch-Timestamp` (Unix seconds) and `X-Dispatch-Signature: sha256=` +
HMAC-SHA256(secret, timestamp + "." + raw body): the signature covers the time, a call older
or newer than five minutes is refused, and each signature is accepted once (`dispatch.
nonces`), so a captured call cannot be replayed. The body names the source exactly as it was
added, `{"kind": "wordpress", "source_url": "https://www.example.org/"}` (a feed: its URL and
kind rss), optionally with the post's `post_url`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from dispatch import nonces
from dispatch.content import sources
from dispatch.db import utcnow
from dispatch.doorbell import ring_after_commit
from dispatch.web.deps import SessionDep

router = APIRouter()
log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Dispatch-Signature"
TIMESTAMP_HEADER = "X-Dispatch-Timestamp"
MAX_BODY = 64 * 1024
WINDOW = timedelta(minutes=5)


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """The signature header's value: "sha256=" + HMAC-SHA256(secret, timestamp "." body)."""
    payload = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def _refused(message: str, status_code: int = 401) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status_code)


def _sent_at(value: str) -> datetime | None:
    """The call's timestamp, if it is one and within WINDOW of now."""
    if not value.isdigit() or len(value) > 12:
        return None
    sent = datetime.fromtimestamp(int(value), tz=UTC)
    return sent if abs(utcnow() - sent) <= WINDOW else None


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
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    # No secret configured means the webhook is off: an empty key would let anyone sign.
    if not key or body is None or not timestamp.isascii():
        return _refused("invalid signature")
    if not hmac.compare_digest(given, sign(key, body, timestamp).encode()):
        return _refused("invalid signature")
    sent = _sent_at(timestamp)
    if sent is None:
        return _refused(f"{TIMESTAMP_HEADER} is missing or more than five minutes away from now")
    digest = hashlib.sha256(given).hexdigest()
    if not nonces.use_once(session, f"hook:{digest}", expires_at=sent + WINDOW):
        return _refused("this call was already received", status_code=409)
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return _refused("the body must be a JSON object", status_code=400)
    url, kind = str(payload.get("source_url") or "").strip(), str(payload.get("kind") or "")
    if not url or not kind:
        return _refused(
            'name the source as it was added: {"kind": "wordpress", "source_url": "https://…/"}',
            status_code=400,
        )
    source = sources.find_source(session, url=url, kind=kind)
    if source is None:
        return _refused(f"no enabled {kind} source has the URL {url!r}", status_code=404)
    source_id = source.id
    claimed = sources.claim_source(session, source_id)
    if claimed:
        # After commit: the worker polls it; if that task is lost, the claim expires and the
        # next beat tick picks the source up.
        ring_after_commit(session, "content.poll_source", source_id)
    log.info(
        "wordpress webhook for source %s (post %s): poll %s",
        source_id,
        str(payload.get("post_url") or "-")[:300],
        "queued" if claimed else "already running",
    )
    return JSONResponse({"source": source_id, "queued": claimed}, status_code=202)
