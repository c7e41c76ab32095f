"""Fixtures for audience tests: the demo topics."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dispatch.content.models import Topic


@pytest.fixture
def topics(db_session: Session) -> list[Topic]:
    from dispatch.demo import ensure_topics

    return ensure_topics(db_session)
