"""An edition ready to send: compiled once per language, with the MIME builder that keeps its
encoded parts. One cache per process, so a worker running many batches of the same edition
compiles it once, and previews, test-sends, the archive and the engine use the same bytes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.config import Settings
from dispatch.delivery.mime import MessageFactory, message_factory
from dispatch.editions.compose import CompositionError
from dispatch.editions.models import Edition
from dispatch.editions.service import SendCompilation, compile_for_send

_MAX_CACHED = 8


@dataclass(frozen=True, slots=True)
class PreparedEdition:
    compilation: SendCompilation
    # Built for this edition alone: it caches the edition's encoded static parts.
    factory: MessageFactory


_cache: dict[int, PreparedEdition] = {}
_lock = threading.Lock()


def prepare(session: Session, edition_id: int, settings: Settings) -> PreparedEdition:
    """The edition compiled and its MIME builder, cached by id and `updated_at`.

    An edition edited between two sends is compiled again. Raises `CompositionError` (a
    message staff can act on) for a missing edition or a broken template.
    """
    version: datetime | None = session.scalar(
        select(Edition.updated_at).where(Edition.id == edition_id)
    )
    if version is None:
        raise CompositionError(f"edition {edition_id} does not exist")
    with _lock:
        found = _cache.get(edition_id)
        if found is not None and found.compilation.version == version:
            return found
    prepared = PreparedEdition(
        compile_for_send(session, edition_id, settings), message_factory(settings)
    )
    with _lock:
        if len(_cache) >= _MAX_CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[edition_id] = prepared
    return prepared


def forget() -> None:
    """Empty this process's cache (tests, template reloads)."""
    with _lock:
        _cache.clear()
