"""Every table, imported in one place so that Alembic and `create_all` see the whole schema."""

from dispatch.audience.models import ConsentEvent, Preference, Subscriber, Suppression
from dispatch.content.models import (
    ContentItem,
    EventChange,
    PublicationEvent,
    PublicationReceipt,
    Source,
    Topic,
    TopicRule,
    item_topics,
    source_topics,
)
from dispatch.db import Base
from dispatch.delivery.models import BounceEvent, Delivery
from dispatch.editions.models import Edition, EditionItem, EventNotice, EventReminder
from dispatch.health import Heartbeat
from dispatch.ratelimit import RateCounter
from dispatch.social.models import SocialAccount, SocialPost, account_topics

__all__ = [
    "Base",
    "BounceEvent",
    "ConsentEvent",
    "ContentItem",
    "Delivery",
    "Edition",
    "EditionItem",
    "EventChange",
    "EventNotice",
    "EventReminder",
    "Heartbeat",
    "Preference",
    "PublicationEvent",
    "PublicationReceipt",
    "RateCounter",
    "SocialAccount",
    "SocialPost",
    "Source",
    "Subscriber",
    "Suppression",
    "Topic",
    "TopicRule",
    "account_topics",
    "item_topics",
    "source_topics",
]
