"""One audience rule: a paused reader, one who never confirmed, and a suppressed address are
left out by every path that sends — the newsletter snapshot, the re-check when a batch is
claimed, alerts, digests and test-sends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audience import reach
from dispatch.audience.models import Subscriber
from dispatch.audience.suppression import suppress
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery import claims, proofs, snapshot
from dispatch.delivery.models import Delivery
from dispatch.delivery.outbox import OutboxTransport
from dispatch.editions import alerts, digests
from dispatch.editions.models import Edition
from tests import factories
from tests.editions.delivered import publish


def _paused(session: Session, settings: Settings, person: Subscriber) -> None:
    person.paused_until = utcnow() + timedelta(days=30)
    session.flush()


def _unconfirmed(session: Session, settings: Settings, person: Subscriber) -> None:
    person.confirmed_at = None
    session.flush()


def _suppressed(session: Session, settings: Settings, person: Subscriber) -> None:
    # Suppressed without the status change an unsubscribe would make: the list alone counts.
    suppress(session, settings, person.email, "complained")


UNREACHABLE: dict[str, Callable[[Session, Settings, Subscriber], None]] = {
    "paused": _paused,
    "unconfirmed": _unconfirmed,
    "suppressed": _suppressed,
}
REASONS = {
    "paused": "paused their mail",
    "unconfirmed": "never confirmed",
    "suppressed": "address suppressed",
}
pytestmark = pytest.mark.parametrize("why", list(UNREACHABLE))


def _readers(
    session: Session, settings: Settings, why: str, *, frequency: str
) -> tuple[Subscriber, Subscriber]:
    reachable = factories.subscriber(session, topics={"blog": frequency})
    left_out = factories.subscriber(session, topics={"blog": frequency})
    UNREACHABLE[why](session, settings, left_out)
    return reachable, left_out


def _recipients(session: Session, edition: Edition, settings: Settings) -> set[int]:
    """Who the sending engine would mail: the snapshot, then the claim-time re-check."""
    snapshot.start_edition(session, edition.id, settings=settings)
    ready, _ = claims.claim_batch(session, edition.id, settings=settings, worker="t/1/1", limit=50)
    return {row.subscriber_id for row in ready}


def test_the_rule_itself(db_session: Session, settings: Settings, why: str) -> None:
    reachable, left_out = _readers(db_session, settings, why, frequency="weekly")
    assert reach.is_reachable(db_session, settings, reachable)
    assert not reach.is_reachable(db_session, settings, left_out)
    reasons = reach.screen(db_session, settings, [reach.reader(p) for p in (reachable, left_out)])
    assert reasons.keys() == {left_out.id} and REASONS[why] in reasons[left_out.id]


def test_a_newsletter_leaves_them_out(db_session: Session, settings: Settings, why: str) -> None:
    reachable, _ = _readers(db_session, settings, why, frequency="monthly")
    edition = factories.edition(db_session, items=[factories.item(db_session)], status="draft")
    assert _recipients(db_session, edition, settings) == {reachable.id}


def test_a_reader_who_changes_after_the_snapshot_is_skipped_at_claim(
    db_session: Session, settings: Settings, why: str
) -> None:
    reachable = factories.subscriber(db_session)
    later = factories.subscriber(db_session)
    edition = factories.edition(db_session, items=[factories.item(db_session)], status="draft")
    snapshot.start_edition(db_session, edition.id, settings=settings)
    UNREACHABLE[why](db_session, settings, later)
    ready, skipped = claims.claim_batch(
        db_session, edition.id, settings=settings, worker="t/1/1", limit=50
    )
    assert {row.subscriber_id for row in ready} == {reachable.id} and skipped == 1
    error = db_session.scalar(
        select(Delivery.error).where(
            Delivery.edition_id == edition.id, Delivery.subscriber_id == later.id
        )
    )
    assert error is not None and REASONS[why] in error


def test_an_alert_is_neither_made_for_them_nor_sent_to_them(
    db_session: Session, settings: Settings, why: str
) -> None:
    left_out = factories.subscriber(db_session, topics={"blog": "immediately"})
    UNREACHABLE[why](db_session, settings, left_out)
    start = utcnow() - timedelta(hours=1)
    publish(db_session, factories.item(db_session).id, start)
    report = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=20))
    assert report.created == [], "nobody reachable follows the topic: no alert at all"

    reachable = factories.subscriber(db_session, topics={"blog": "immediately"})
    publish(db_session, factories.item(db_session).id, start + timedelta(minutes=30))
    report = alerts.create_alerts(db_session, settings, now=start + timedelta(minutes=50))
    (alert_id,) = report.created
    alert = db_session.get(Edition, alert_id)
    assert alert is not None
    assert _recipients(db_session, alert, settings) == {reachable.id}


def test_a_digest_leaves_them_out(db_session: Session, settings: Settings, why: str) -> None:
    reachable, _ = _readers(db_session, settings, why, frequency="weekly")
    monday = factories.aware(2026, 11, 30, 7, 0)  # 08:00 in Paris
    factories.item(db_session, published_at=monday - timedelta(days=2))
    digest = digests.create_digest(db_session, "weekly", now=monday + timedelta(minutes=5))
    assert digest is not None
    assert _recipients(db_session, digest, settings) == {reachable.id}


def test_a_test_send_to_their_address_is_refused(
    db_session: Session, settings: Settings, why: str
) -> None:
    reachable, left_out = _readers(db_session, settings, why, frequency="weekly")
    edition = factories.edition(db_session, items=[factories.item(db_session)])
    outbox = OutboxTransport(settings.mail_outbox_dir, fsync=False)
    results = proofs.send_test(
        db_session, settings, edition.id, [reachable.email, left_out.email], transport=outbox
    )
    assert [(r.address, r.ok) for r in results] == [
        (reachable.email, True),
        (left_out.email, False),
    ]
    assert REASONS[why] in results[1].detail
    assert len(list(settings.mail_outbox_dir.glob("*.eml"))) == 1
