"""Topics: renamed and reordered; removed only when nothing refers to them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from dispatch.content import topics
from dispatch.content.models import Topic
from tests import factories


def test_a_topic_in_use_is_kept_with_what_uses_it(db_session: Session) -> None:
    followed = factories.topic(db_session, "events")
    factories.subscriber(db_session, topics={"events": "weekly"})
    factories.item(db_session, topics=["events"])
    with pytest.raises(topics.TopicInUseError) as refused:
        topics.remove_topic(db_session, followed.id)
    assert refused.value.uses == {"preferences": 1, "item_topics": 1}

    free = topics.add_topic(db_session, "podcasts", name_fr="Podcasts", name_en="Podcasts")
    topics.update_topic(db_session, free.id, name_fr="Nos podcasts", name_en="Ours", position=0)
    assert (free.name_fr, free.hashtag, free.position) == ("Nos podcasts", "#podcasts", 0)
    topics.remove_topic(db_session, free.id)
    assert db_session.get(Topic, free.id) is None
