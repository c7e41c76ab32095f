"""Every table, imported in one place so that Alembic and `create_all` see the whole schema."""

from dispatch.audience.models import (
    ConsentEvent,
    LinkRequest,
    Preference,
    Subscriber,
    Suppression,
)
from dispatch.audit import AuditEvent
from dispatch.content.models import (
    ContentItem,
    EventChange,
    ItemSource,
    PublicationEvent,
    PublicationReceipt,
    Source,
    Topic,
    TopicRule,
    item_topics,
    source_topics,
)
from dispatch.db import Base
from dispatch.delivery.models import BounceEvent, Delivery, HeldReport
from dispatch.editions.models import Edition, EditionItem, EventNotice, EventReminder
from dispatch.health import Heartbeat
from dispatch.nonces import UsedNonce
from dispatch.ratelimit import RateCounter
from dispatch.social.models import SocialAccount, SocialPost, account_topics
from dispatch.staff.models import ApiToken, StaffLink, StaffSession, StaffUser

__all__ = [
    "ApiToken",
    "AuditEvent",
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
    "HeldReport",
    "ItemSource",
    "LinkRequest",
    "Preference",
    "PublicationEvent",
    "PublicationReceipt",
    "RateCounter",
    "SocialAccount",
    "SocialPost",
    "Source",
    "StaffLink",
    "StaffSession",
    "StaffUser",
    "Subscriber",
    "Suppression",
    "Topic",
    "TopicRule",
    "UsedNonce",
    "account_topics",
    "item_topics",
    "source_topics",
]
