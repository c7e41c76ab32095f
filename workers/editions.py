"""Tasks for editions: the alerts, digests and events ticks (beat), each one session and a
service call."""

from __future__ import annotations

import logging

from dispatch.config import get_settings
from dispatch.db import session_scope
from dispatch.editions import alerts, digests, notices, reminders
from workers.app import app

log = logging.getLogger(__name__)


@app.task(name="editions.alerts_tick", acks_late=True, ignore_result=True)
def alerts_tick() -> None:
    """Beat: finished bursts of new items become alert editions, scheduled now."""
    with session_scope() as session:
        report = alerts.create_alerts(session, get_settings())
    if report.created:
        log.info("alerts created: editions %s", report.created)


@app.task(name="editions.digests_tick", acks_late=True, ignore_result=True)
def digests_tick() -> None:
    """Beat: the weekly and monthly digests, once each per period, when due."""
    with session_scope() as session:
        created = digests.create_due_digests(session)
    if created:
        log.info("digests created: editions %s", created)


@app.task(name="editions.events_tick", acks_late=True, ignore_result=True)
def events_tick() -> None:
    """Beat: due event reminders, and notices of events that changed or were cancelled."""
    settings = get_settings()
    with session_scope() as session:
        told = notices.create_notices(session, settings)
        reminded = reminders.create_due_reminders(session, settings)
    if reminded.created or told.created:
        log.info("event reminders %s, notices %s", reminded.created, told.created)
