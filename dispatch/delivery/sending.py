"""The send loop: one claimed batch of an edition, personalised, sent and recorded row by row.

`send_next_batch` does, each step safe to repeat: claim up to `mail.batch_size` due rows and
commit the claim (`dispatch.delivery.claims`); then per row, personalise, send through the
mail path and record the outcome right after the server's reply (`dispatch.delivery.ledger`);
then mark the edition sent if nothing is left open. A crash repeats at most the message in
flight on the connection; an expired lease (`dispatch.delivery.sweeper`) puts unsent rows
back in the queue. The loop also obeys the shared rate, renews its lease on long batches,
stops within a second when staff pause or cancel, waits before reconnecting after a failed
connection (`dispatch.delivery.backoff`, saying so in the edition's `status_reason`), and
pauses the edition by itself after `mail.pause_after_errors` consecutive errors.

This module commits: a claim must be visible to other workers before the first message goes,
and each outcome must be durable before the next. It therefore takes a `sessionmaker`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience import tokens
from dispatch.audience.consent import Origin
from dispatch.audience.service import mark_bounced
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery import backoff, verp
from dispatch.delivery.backoff import Reconnect
from dispatch.delivery.bounces.providers import echo_header
from dispatch.delivery.claims import Recipient, claim_batch, has_due_rows
from dispatch.delivery.leases import worker_identity
from dispatch.delivery.ledger import OutcomeWriter, finish_if_done
from dispatch.delivery.mime import HeaderError, OutgoingMessage
from dispatch.delivery.models import Delivery
from dispatch.delivery.prepared import PreparedEdition, prepare
from dispatch.delivery.snapshot import snapshot_complete
from dispatch.delivery.throttle import HourlyLimitReached, Throttle, chunk_size
from dispatch.delivery.transport import MailTransport, SendOutcome, SendStatus
from dispatch.editions.compose import CompositionError, personalise
from dispatch.editions.models import Edition
from dispatch.editions.views import RecipientView

log = logging.getLogger(__name__)

#: How often a running batch looks whether staff paused or cancelled the edition.
STATUS_CHECK_SECONDS = 1.0
#: How long a batch that found nothing waits before the next, while the snapshot is written.
SNAPSHOT_WAIT_SECONDS = 0.25


def default_retry_delay(attempts: int) -> timedelta:
    """Backoff after a temporary failure: 1, 2, 4… minutes, at most an hour."""
    return timedelta(seconds=min(3600, 60 * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Mailer:
    """What a batch sends with: settings, the mail path, the shared rate, and who it is."""

    settings: Settings
    transport: MailTransport
    throttle: Throttle
    worker: str = field(default_factory=worker_identity)
    retry_delay: Callable[[int], timedelta] = default_retry_delay
    # None: this process's own back-off towards the configured relay.
    reconnect: Reconnect | None = None


@dataclass
class BatchReport:
    """What one batch did. `more` means queued rows are due now: enqueue another batch."""

    edition_id: int
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: int = 0
    released: int = 0
    stopped: str | None = None
    more: bool = False
    finished: bool = False


def send_next_batch(
    sessions: sessionmaker[Session], edition_id: int, mailer: Mailer
) -> BatchReport:
    """Claim one batch of `edition_id`, send it through `mailer`, record every outcome.

    Does nothing unless the edition is sending. When `report.more` is true the caller
    enqueues another batch (after this call, nothing is left to commit): rows are due, or
    the audience snapshot is still being written and more will come.
    """
    report = BatchReport(edition_id)
    with sessions() as session, session.begin():
        status = session.scalar(select(Edition.status).where(Edition.id == edition_id))
        if status != "sending":
            report.stopped = f"edition is {status or 'missing'}"
            return report
        claimed, report.skipped = claim_batch(
            session,
            edition_id,
            settings=mailer.settings,
            worker=mailer.worker,
            limit=mailer.settings.mail.batch_size,
        )
    report.claimed = len(claimed) + report.skipped
    if claimed:
        _Batch(sessions, edition_id, mailer, report).send(claimed)
    with sessions() as session, session.begin():
        now = utcnow()
        report.finished = finish_if_done(session, edition_id, now=now)
        still_sending = (
            session.scalar(select(Edition.status).where(Edition.id == edition_id)) == "sending"
        )
        pending = still_sending and not snapshot_complete(session, edition_id)
        report.more = still_sending and (
            (report.claimed > 0 and has_due_rows(session, edition_id, now)) or pending
        )
    if pending and report.claimed == 0:
        # The batches caught up with the audience snapshot: give it time to write more.
        time.sleep(SNAPSHOT_WAIT_SECONDS)
    return report


def recipient_view(settings: Settings, recipient: Recipient) -> RecipientView:
    """The reader as templates see them, with their signed links."""
    return RecipientView(
        email=recipient.email,
        name=recipient.name,
        locale=recipient.locale,
        unsubscribe_url=tokens.unsubscribe_url(settings, recipient.subscriber_id),
        preferences_url=tokens.preferences_url(settings, recipient.subscriber_id),
        topics=recipient.topics,
        left_out=recipient.left_out,
        unsubscribe_mailto="mailto:"
        + verp.encode_unsubscribe(
            settings.mail.bounce_local_part,
            settings.bounce_domain,
            recipient.subscriber_id,
            settings.secret_key,
        )
        + "?subject=unsubscribe",
    )


def build_message(
    prepared: PreparedEdition, recipient: Recipient, settings: Settings
) -> OutgoingMessage | None:
    """The final bytes for one row; None when the reader's copy would be empty (nothing in
    their topics, or nothing they did not already receive).

    The Message-ID is the same at every attempt: a repeat after a crash is one message to
    receivers that de-duplicate, and a complaint quoting it still finds its row.
    """
    compiled = prepared.compilation.for_locale(recipient.locale)
    reader = recipient_view(settings, recipient)
    if not compiled.has_content_for(reader):
        return None
    secret = settings.secret_key
    token = verp.make_token(recipient.delivery_id, secret)
    domain = prepared.factory.message_id_domain
    headers = [(verp.DELIVERY_HEADER, token)]
    echo = echo_header(settings.mail.provider, token)  # what the provider's webhooks return
    if echo is not None:
        headers.append(echo)
    return prepared.factory.build(
        personalise(compiled, reader),
        message_id=f"<{token}.e{prepared.compilation.edition_id}@{domain}>",
        envelope_from=verp.encode(
            settings.mail.bounce_local_part,
            settings.bounce_domain,
            recipient.delivery_id,
            secret,
        ),
        extra_headers=headers,
    )


class _Batch:
    """One claimed batch on its way out: what it sends with, where it writes, what it did."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        edition_id: int,
        mailer: Mailer,
        report: BatchReport,
    ) -> None:
        self.sessions = sessions
        self.edition_id = edition_id
        self.mailer = mailer
        self.settings = mailer.settings
        self.report = report
        self.errors_seen = False
        self.stopping = False  # the loop ends after the current row
        self.reconnect = mailer.reconnect or backoff.for_relay(mailer.settings)
        lease = mailer.settings.mail.lease_seconds
        self.next_check = time.monotonic() + STATUS_CHECK_SECONDS
        self.renew_at = time.monotonic() + lease / 3

    def send(self, claimed: list[Recipient]) -> None:
        engine: Any = self.sessions.kw["bind"]
        with (
            engine.connect() as conn,
            OutcomeWriter(conn, self.edition_id, self.mailer.worker) as ledger,
        ):
            self.ledger = ledger
            try:
                with self.sessions() as session:
                    prepared = prepare(session, self.edition_id, self.settings)
            except CompositionError as error:
                ledger.pause(f"The edition cannot be composed: {error}")
                self.report.released = ledger.release([r.delivery_id for r in claimed])
                self.report.stopped = str(error)
                return
            position = 0
            try:
                position = self._loop(claimed, prepared)
            finally:
                self._release(claimed[position:])

    def _still_sending(self) -> bool:
        """About once a second: renew the lease when due, and look whether staff paused or
        cancelled the edition (then False, with the reason in the report)."""
        if time.monotonic() < self.next_check:
            return True
        self.next_check = time.monotonic() + STATUS_CHECK_SECONDS
        lease = timedelta(seconds=self.settings.mail.lease_seconds)
        if time.monotonic() >= self.renew_at:
            self.renew_at = time.monotonic() + lease.total_seconds() / 3
            self.ledger.renew(utcnow() + lease)
        status = self.ledger.edition_status()
        if status != "sending":
            self.report.stopped = f"edition {status}"
            return False
        return True

    def _loop(self, claimed: list[Recipient], prepared: PreparedEdition) -> int:
        """Send rows in order; returns how many were dealt with (the rest is released)."""
        mail = self.settings.mail
        allowance = 0
        with self.mailer.transport as transport:
            for position, recipient in enumerate(claimed):
                if not self._still_sending():
                    return position
                if allowance == 0:
                    try:
                        wanted = min(len(claimed) - position, chunk_size(mail.rate_per_second))
                        allowance = self.mailer.throttle.acquire(wanted)
                    except HourlyLimitReached as limit:
                        self.report.stopped = str(limit)
                        self.report.released += self.ledger.release(
                            [r.delivery_id for r in claimed[position:]], next_at=limit.resume_at
                        )
                        return len(claimed)
                allowance -= 1
                dealt = self._send_one(recipient, prepared, transport)
                if self.stopping:  # paused: by itself after too many errors, or by staff
                    return position + dealt
        return len(claimed)

    def _send_one(
        self, recipient: Recipient, prepared: PreparedEdition, transport: MailTransport
    ) -> bool:
        """Send and record one row; False when it was left as it is (the loop stopped)."""
        try:
            message = build_message(prepared, recipient, self.settings)
        except HeaderError as error:
            outcome = SendOutcome(SendStatus.FAILED, reason=f"cannot build the message: {error}")
        else:
            if message is None:
                self.ledger.other(
                    recipient.delivery_id,
                    "skipped",
                    error="nothing new for this reader"
                    if recipient.left_out
                    else "nothing in the reader's topics",
                    tried=0,
                )
                self.report.skipped += 1
                return True
            while True:
                if not self._wait_to_reconnect():
                    return False
                # The previous row's mark was committing while this message was built and
                # transferred: it must be on disk before this message's final dot.
                outcome = transport.send(
                    message.envelope_from,
                    message.recipient,
                    message.data,
                    before_commit=self.ledger.settle,
                )
                if not outcome.connection_failed:
                    break
                # Nothing was sent: the row stays as it is, the same message goes again.
                self.errors_seen = True
                if self._pause_if_too_many(outcome):
                    return False
                delay = self.reconnect.failed()
                self.ledger.note(
                    f"The mail server refused the connection ({outcome.summary()}); "
                    f"trying again in {delay:.0f} s (attempt {self.reconnect.failures + 1})."
                )
            self.reconnect.succeeded()
            if outcome.ok:
                self.ledger.sent(
                    recipient.delivery_id,
                    message.message_id,
                    outcome.summary(),
                    reader=recipient.subscriber_id,
                    items=message.item_ids,
                )
                self.report.sent += 1
                if self.errors_seen:
                    self.ledger.reset_errors()
                    self.errors_seen = False
                return True
        self.errors_seen = self._record_failure(recipient, outcome)
        if self.errors_seen:
            self._pause_if_too_many(outcome)
        return True

    def _wait_to_reconnect(self) -> bool:
        """Wait out this worker's back-off, checking the edition; False if it stopped."""
        while (left := self.reconnect.remaining()) > 0:
            time.sleep(min(left, STATUS_CHECK_SECONDS))
            if not self._still_sending():
                self.stopping = True
                return False
        return True

    def _pause_if_too_many(self, outcome: SendOutcome) -> bool:
        """Count one more consecutive error; True when that paused the edition."""
        count = self.ledger.count_error()
        if count < self.settings.mail.pause_after_errors:
            return False
        reason = (
            f"Paused automatically after {count} consecutive errors; "
            f"the last one: {outcome.summary()}"
        )
        if self.ledger.pause(reason):
            log.warning("edition %s: %s", self.edition_id, reason)
        self.report.stopped = reason
        self.stopping = True
        return True

    def _record_failure(self, recipient: Recipient, outcome: SendOutcome) -> bool:
        """Write a refusal on the row; True when it counts towards the automatic pause."""
        summary = outcome.summary()
        report = self.report
        if outcome.status is SendStatus.BOUNCED:
            self._bounced(recipient, summary)
            report.bounced += 1
            return False
        attempts = recipient.attempts + 1
        if outcome.status is SendStatus.RETRY and attempts < self.settings.mail.max_attempts:
            self.ledger.other(
                recipient.delivery_id,
                "queued",
                error=summary,
                reply=summary,
                next_at=utcnow() + self.mailer.retry_delay(attempts),
            )
            report.retried += 1
            return True
        error = (
            summary
            if outcome.status is SendStatus.FAILED
            else f"gave up after {attempts} attempts: {summary}"
        )
        self.ledger.other(recipient.delivery_id, "failed", error=error, reply=summary)
        report.failed += 1
        return True

    def _bounced(self, recipient: Recipient, summary: str) -> None:
        """The server refused the address for good: the row and the reader say so at once."""
        self.ledger.settle()
        with self.sessions() as session, session.begin():
            session.execute(
                update(Delivery)
                .where(Delivery.id == recipient.delivery_id, Delivery.status == "sending")
                .values(
                    status="bounced",
                    error=summary,
                    smtp_reply=summary,
                    attempts=Delivery.attempts + 1,
                    lease_until=None,
                    leased_by=None,
                )
                .execution_options(synchronize_session=False)
            )
            mark_bounced(
                session,
                self.settings,
                recipient.subscriber_id,
                hard=True,
                origin=Origin("delivery"),
            )

    def _release(self, rest: list[Recipient]) -> None:
        """Rows claimed but not sent go back to the queue (or are skipped if cancelled)."""
        if not rest:
            return
        cancelled = self.ledger.edition_status() == "cancelled"
        self.report.released += self.ledger.release(
            [r.delivery_id for r in rest],
            status="skipped" if cancelled else "queued",
            error="edition cancelled" if cancelled else None,
        )
