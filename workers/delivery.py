"""Delivery tasks: send one batch of an edition, the delivery tick, bounce processing."""

from __future__ import annotations

from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from dispatch.config import get_settings
from dispatch.db import default_engine, make_sessionmaker, session_scope
from dispatch.delivery import sending, snapshot, sweeper, throttle
from dispatch.delivery.bounces import handling
from dispatch.delivery.transport import for_settings
from workers.app import app, enqueue


@cache
def _sessions() -> sessionmaker[Session]:
    return make_sessionmaker(default_engine())


@app.task(name="delivery.send_batch", acks_late=True, ignore_result=True)
def send_batch(edition_id: int) -> None:
    """Claim and send one batch; chain the next while due rows remain."""
    settings = get_settings()
    mailer = sending.Mailer(
        settings, for_settings(settings), throttle.for_settings(settings, _sessions())
    )
    report = sending.send_next_batch(_sessions(), edition_id, mailer)
    if report.more:
        enqueue("delivery.send_batch", edition_id)


@app.task(name="delivery.build_audience", acks_late=True, ignore_result=True)
def build_audience(edition_id: int) -> None:
    """Write the rest of a started edition's audience snapshot, chunk by chunk."""
    snapshot.continue_audience(_sessions(), edition_id)


@app.task(name="delivery.tick", acks_late=True, ignore_result=True)
def tick() -> None:
    """Beat: expired leases back to queued, due editions started, broken chains restarted,
    unfinished audience snapshots handed on."""
    with session_scope(_sessions()) as session:
        result = sweeper.sweep(session, settings=get_settings())
    for edition_id, count in result.batches.items():
        for _ in range(count):
            enqueue("delivery.send_batch", edition_id)
    for edition_id in result.audiences:
        enqueue("delivery.build_audience", edition_id)


@app.task(name="delivery.process_bounces", acks_late=True, ignore_result=True)
def process_bounces() -> None:
    """Beat: read the bounce mailbox, when one is configured."""
    settings = get_settings()
    if handling.mailbox_configured(settings):
        handling.process_bounces(_sessions(), settings)
