"""The sending engine: the recipients ledger of an edition, claimed in batches and sent.

An edition's send goes through three steps, each safe to repeat:

1. `start_edition` snapshots the audience into one `Delivery` row per (edition, subscriber),
   unique, by keyset chunks of subscriber ids up to `max_subscriber_id` (people who join
   later do not join the send midway).
2. `send_next_batch` claims up to `mail.batch_size` queued rows with a lease (`FOR UPDATE
   SKIP LOCKED` on PostgreSQL; SQLite has a single writer, every transaction starting with
   BEGIN IMMEDIATE), re-checks each reader (active, not suppressed, not paused: otherwise the
   row is skipped), and commits the claim before anything is sent. Then, per row: personalise,
   send, and record the outcome in its own short transaction right after the server's reply.
   A crash therefore repeats at most the message in flight on the connection, and an
   expired lease (see `dispatch.delivery.sweeper`) puts unsent rows back in the queue.
3. `finish_if_done` marks the edition sent when no row is queued or sending.

Unlike most services this module commits: a claim must be visible to other workers before
the first message goes, and each outcome must be durable before the next. It therefore
takes a `sessionmaker` rather than a session.
"""

from __future__ import annotations

import logging
import os
import select as select_module
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from psycopg import pq
from sqlalchemy import Connection, Table, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Preference, Subscriber
from dispatch.config import Settings
from dispatch.content.models import Topic
from dispatch.db import UTCDateTime, utcnow
from dispatch.delivery import subscribers as audience
from dispatch.delivery import verp
from dispatch.delivery.mime import HeaderError, MessageFactory
from dispatch.delivery.models import Delivery
from dispatch.delivery.paths import message_factory
from dispatch.delivery.throttle import HourlyLimitReached, Throttle, chunk_size
from dispatch.delivery.transport import MailTransport, SendOutcome, SendStatus
from dispatch.editions.compose import CompositionError, personalise
from dispatch.editions.models import Edition
from dispatch.editions.service import SendCompilation, compile_for_send
from dispatch.editions.views import RecipientView

log = logging.getLogger(__name__)
DELIVERIES = cast(Table, Delivery.__table__)
SUBSCRIBERS = cast(Table, Subscriber.__table__)

#: Batch tasks started in parallel for one edition; each enqueues the next when it ends.
PARALLEL_BATCHES = 4
AUDIENCE_CHUNK = 5000
#: How often a running batch looks whether staff paused or cancelled the edition.
STATUS_CHECK_SECONDS = 1.0
OPEN_STATUSES = ("queued", "sending")


class MarkError(Exception):
    """The database refused to record an outcome; the batch stops and its lease expires."""


class EditionStateError(Exception):
    """The edition is not in a state that allows this action; the message says why."""


@dataclass(frozen=True)
class StartResult:
    edition_id: int
    recipients: int
    batches: int  # batch tasks to enqueue once the transaction has committed


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


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    subscriber_id: int
    email: str
    name: str
    locale: str
    attempts: int
    topics: frozenset[str] = field(default_factory=frozenset)


def default_retry_delay(attempts: int) -> timedelta:
    """Backoff after a temporary failure: 1, 2, 4… minutes, at most an hour."""
    return timedelta(seconds=min(3600, 60 * 2 ** max(0, attempts - 1)))


# --- who holds a lease ------------------------------------------------------------------


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "-"


def worker_identity() -> str:
    """``host/pid-namespace/pid``: enough to tell, on the same machine, that a holder died."""
    return f"{socket.gethostname()}/{_pid_namespace()}/{os.getpid()}"


def holder_is_dead(holder: str | None) -> bool:
    """True only when `holder` ran on this machine, in this pid namespace, and is gone.

    A lease held by a process that was killed need not wait for its expiry. Anything
    uncertain (another machine, a reused pid) counts as alive: the lease then expires.
    """
    if not holder:
        return False
    host, _, rest = holder.partition("/")
    namespace, _, pid_text = rest.partition("/")
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid_text.isdigit():
        return False
    try:
        import psutil

        return psutil.Process(int(pid_text)).status() == psutil.STATUS_ZOMBIE
    except ImportError:
        pass
    except Exception:  # psutil.NoSuchProcess and friends
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --- audience snapshot ------------------------------------------------------------------


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def audience_conditions(edition: Edition, now: datetime) -> list[Any]:
    """Who receives `edition`: active, confirmed, not paused, language and preferences match."""
    conditions: list[Any] = [
        Subscriber.status == "active",
        Subscriber.confirmed_at.is_not(None),
        or_(Subscriber.paused_until.is_(None), Subscriber.paused_until <= now),
    ]
    if edition.locale:
        conditions.append(Subscriber.locale == edition.locale)
    topics = list((edition.audience or {}).get("topics") or [])
    frequency = (edition.audience or {}).get("frequency")
    if topics or frequency:
        preference = select(Preference.subscriber_id).where(
            Preference.subscriber_id == Subscriber.id
        )
        if topics:
            preference = preference.join(Topic, Topic.id == Preference.topic_id).where(
                Topic.slug.in_(topics)
            )
        if frequency:
            preference = preference.where(Preference.frequency == frequency)
        conditions.append(exists(preference))
    return conditions


def build_audience(session: Session, edition: Edition, *, now: datetime | None = None) -> int:
    """Snapshot the audience into Delivery rows (idempotent); returns the number of rows.

    Runs in the database, one chunk of subscriber ids at a time: the list is never held
    in memory. Suppressed addresses are caught when their batch is claimed (the suppression
    list is keyed by a hash the database cannot compute).
    """
    now = now or utcnow()
    if edition.max_subscriber_id is None:
        edition.max_subscriber_id = session.scalar(select(func.max(Subscriber.id))) or 0
    conditions = audience_conditions(edition, now)
    insert = _insert(session)
    low = 0
    while low < edition.max_subscriber_id:
        high = min(low + AUDIENCE_CHUNK, edition.max_subscriber_id)
        chosen = select(
            literal(edition.id),
            Subscriber.id,
            literal("queued"),
            literal(0),
            literal(now, UTCDateTime()),
        ).where(Subscriber.id > low, Subscriber.id <= high, *conditions)
        session.execute(
            insert(Delivery)
            .from_select(
                ["edition_id", "subscriber_id", "status", "attempts", "created_at"], chosen
            )
            .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
        )
        low = high
    edition.audience_built_at = now
    edition.recipients_total = (
        session.scalar(select(func.count()).where(Delivery.edition_id == edition.id)) or 0
    )
    session.flush()
    return edition.recipients_total


def batches_to_start(recipients: int, batch_size: int) -> int:
    return max(1, min(PARALLEL_BATCHES, -(-recipients // max(1, batch_size))))


def start_edition(
    session: Session, edition_id: int, *, settings: Settings, now: datetime | None = None
) -> StartResult:
    """Move a draft or scheduled edition to `sending` and snapshot its audience.

    Flushes; the caller commits, then enqueues `result.batches` batch tasks. Starting an
    edition already sending only says how many batches to enqueue.
    """
    now = now or utcnow()
    edition = session.get(Edition, edition_id, with_for_update=True)
    if edition is None:
        raise EditionStateError(f"Edition {edition_id} does not exist.")
    if edition.status == "sending":
        return StartResult(edition.id, edition.recipients_total, 0)
    if edition.status not in ("draft", "scheduled"):
        raise EditionStateError(
            f"Edition {edition_id} is {edition.status}: only a draft or scheduled edition starts."
        )
    edition.status = "sending"
    edition.started_at = edition.started_at or now
    edition.consecutive_errors = 0
    edition.status_reason = None
    recipients = build_audience(session, edition, now=now)
    return StartResult(
        edition.id, recipients, batches_to_start(recipients, settings.mail.batch_size)
    )


# --- claiming ---------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)


def has_due_rows(session: Session, edition_id: int, now: datetime) -> bool:
    query = select(Delivery.id).where(
        Delivery.edition_id == edition_id, Delivery.status == "queued", _due(now)
    )
    return session.scalar(query.limit(1)) is not None


def claim_batch(
    session: Session,
    edition_id: int,
    *,
    settings: Settings,
    worker: str,
    limit: int,
    now: datetime | None = None,
) -> tuple[list[_Claimed], int]:
    """Lease up to `limit` due rows and re-check their readers; returns (to send, skipped).

    Rows whose reader unsubscribed, bounced, was erased, paused their mail or is suppressed
    are marked skipped with the reason. Flushes; the caller commits before sending.
    """
    now = now or utcnow()
    chosen = (
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.status == "queued", _due(now))
        .order_by(Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        chosen = chosen.with_for_update(skip_locked=True)
    # Core statements on the session's connection: a thousand rows each, no ORM objects.
    conn = session.connection()
    claimed = conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(chosen.scalar_subquery()))
        .values(
            status="sending",
            lease_until=now + timedelta(seconds=settings.mail.lease_seconds),
            leased_by=worker,
        )
        .returning(DELIVERIES.c.id, DELIVERIES.c.subscriber_id, DELIVERIES.c.attempts)
    ).all()
    if not claimed:
        return [], 0
    subscriber_ids = [row.subscriber_id for row in claimed if row.subscriber_id is not None]
    people = {
        row.id: row
        for row in conn.execute(
            select(
                SUBSCRIBERS.c.id,
                SUBSCRIBERS.c.email,
                SUBSCRIBERS.c.name,
                SUBSCRIBERS.c.locale,
                SUBSCRIBERS.c.status,
                SUBSCRIBERS.c.paused_until,
            ).where(SUBSCRIBERS.c.id.in_(subscriber_ids))
        )
    }
    hashes = {sid: audience.email_hash(settings, p.email) for sid, p in people.items()}
    suppressed = audience.suppressed_hashes(session, hashes.values())
    topics: dict[int, set[str]] = {}
    edition_kind, audience_spec = session.execute(
        select(Edition.kind, Edition.audience).where(Edition.id == edition_id)
    ).one()
    if edition_kind == "digest" and people:
        # A weekly digest shows only the topics the reader wants weekly, and so on.
        query = (
            select(Preference.subscriber_id, Topic.slug)
            .join(Topic, Topic.id == Preference.topic_id)
            .where(Preference.subscriber_id.in_(list(people)))
        )
        frequency = (audience_spec or {}).get("frequency")
        if frequency:
            query = query.where(Preference.frequency == frequency)
        for sid, slug in session.execute(query):
            topics.setdefault(sid, set()).add(slug)
    ready: list[_Claimed] = []
    skips: list[dict[str, Any]] = []
    for row in claimed:
        person = people.get(row.subscriber_id) if row.subscriber_id is not None else None
        reason = None
        if person is None:
            reason = "subscriber erased"
        elif person.status != "active":
            reason = f"subscriber {person.status}"
        elif hashes[person.id] in suppressed:
            reason = "address suppressed"
        elif person.paused_until is not None and person.paused_until > now:
            reason = f"subscriber paused their mail until {person.paused_until:%Y-%m-%d}"
        if reason is not None:
            skips.append({"row_id": row.id, "reason": reason})
            continue
        assert person is not None
        ready.append(
            _Claimed(
                row.id,
                person.id,
                person.email,
                person.name,
                person.locale,
                row.attempts,
                frozenset(topics.get(person.id, ())),
            )
        )
    if skips:
        _skip_rows(session.connection(), skips)
    return ready, len(skips)


def _skip_rows(conn: Connection, skips: list[dict[str, Any]]) -> None:
    table = DELIVERIES
    conn.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(status="skipped", error=bindparam("reason"), lease_until=None, leased_by=None),
        skips,
    )


# --- finishing --------------------------------------------------------------------------


def finish_if_done(session: Session, edition_id: int, *, now: datetime | None = None) -> bool:
    """Mark a sending edition sent when none of its rows is queued or sending."""
    open_row = session.scalar(
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    if open_row is not None:
        return False
    done = session.execute(
        update(Edition)
        .where(Edition.id == edition_id, Edition.status == "sending")
        .values(status="sent", finished_at=now or utcnow(), status_reason=None)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


# --- sending ----------------------------------------------------------------------------


@dataclass
class _Prepared:
    compilation: SendCompilation
    factory: MessageFactory


_factories: dict[int, tuple[SendCompilation, MessageFactory]] = {}
_factories_lock = threading.Lock()


def _prepare(session: Session, edition_id: int, settings: Settings) -> _Prepared:
    compilation = compile_for_send(session, edition_id, settings)
    with _factories_lock:
        found = _factories.get(edition_id)
        if found is None or found[0] is not compilation:
            found = (compilation, message_factory(settings))
            _factories[edition_id] = found
    return _Prepared(found[0], found[1])


class _Marks:
    """Outcomes written one by one, each committed at once, on one kept connection.

    On PostgreSQL the connection runs in autocommit with ``synchronous_commit`` off for its
    session, and a sent mark is one prepared ``UPDATE`` by primary key handed straight to
    libpq without waiting for the answer: the engine builds the next message meanwhile and
    calls `settle` (which waits for the commit) before that message goes out. A committed
    mark survives the worker being killed; only a crash of the database server itself could
    lose the last few, whose messages would then be sent again. Elsewhere (SQLite) every mark
    is its own transaction, written before `sent` returns.
    """

    def __init__(self, conn: Connection, edition_id: int, worker: str) -> None:
        self.edition_id = edition_id
        self.worker = worker
        self._pgconn: Any = None
        self._pending = False
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit TO off")
            prepared = conn.exec_driver_sql(
                "SELECT 1 FROM pg_prepared_statements WHERE name = %(name)s",
                {"name": _PG_SENT_NAME.decode()},
            ).first()
            if prepared is None:
                conn.exec_driver_sql(f"PREPARE {_PG_SENT_NAME.decode()} AS {_PG_SENT}")
            self._pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
        self.conn = conn
        table = DELIVERIES
        self._sent = (
            update(table)
            .where(table.c.id == _param("row_id"), table.c.status.in_(OPEN_STATUSES))
            .values(
                status="sent",
                message_id=_param("message_id"),
                smtp_reply=_param("reply"),
                sent_at=_param("at"),
                attempts=table.c.attempts + 1,
                lease_until=None,
                leased_by=None,
                error=None,
            )
        )
        self._other = (
            update(table)
            .where(
                table.c.id == _param("row_id"),
                table.c.status == "sending",
                table.c.leased_by == worker,
            )
            .values(
                status=_param("status"),
                smtp_reply=_param("reply"),
                error=_param("error"),
                attempts=table.c.attempts + _param("tried"),
                next_attempt_at=_param("next_at"),
                lease_until=None,
                leased_by=None,
            )
        )

    def __enter__(self) -> _Marks:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Wait for the last mark, and give the connection back as it was found."""
        if self._pgconn is None:
            return
        if exc_type is None:
            self.settle()
        if self._pending:
            # An answer never read: the connection is out of step, never reuse it.
            self.conn.invalidate()
        elif not self.conn.invalidated and not self.conn.closed:
            self.conn.exec_driver_sql("RESET synchronous_commit")

    def sent(self, row_id: int, message_id: str, reply: str) -> None:
        """Record a message as sent; on PostgreSQL, committed by the next `settle`."""
        if self._pgconn is None:
            self.conn.execute(
                self._sent,
                {"row_id": row_id, "message_id": message_id, "reply": reply, "at": utcnow()},
            )
            self.conn.commit()
            return
        self.settle()
        at = utcnow().isoformat()
        values = [message_id.encode(), reply.encode(), at.encode(), str(row_id).encode()]
        self._pgconn.send_query_prepared(_PG_SENT_NAME, values)
        self._pending = True
        while self._pgconn.flush():  # only when the socket buffer is full
            select_module.select([], [self._pgconn.socket], [])

    def settle(self) -> None:
        """Wait until the last mark is committed; raises if the database refused it."""
        if not self._pending:
            return
        error = None
        while (result := self._pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                error = result.error_message.decode(errors="replace")
        self._pending = False
        if error is not None:
            raise MarkError(f"recording a sent message failed: {error}")

    def other(
        self,
        row_id: int,
        status: str,
        *,
        error: str,
        reply: str | None = None,
        tried: int = 1,
        next_at: datetime | None = None,
    ) -> None:
        self.settle()
        params = {
            "row_id": row_id,
            "status": status,
            "reply": reply,
            "error": error[:2000],
            "tried": tried,
            "next_at": next_at,
        }
        self.conn.execute(self._other, params)
        self.conn.commit()

    def release(
        self,
        row_ids: list[int],
        *,
        status: str = "queued",
        error: str | None = None,
        next_at: datetime | None = None,
    ) -> int:
        self.settle()
        if not row_ids:
            return 0
        table = DELIVERIES
        result = self.conn.execute(
            update(table)
            .where(
                table.c.id.in_(row_ids),
                table.c.status == "sending",
                table.c.leased_by == self.worker,
            )
            .values(
                status=status,
                error=error,
                next_attempt_at=next_at,
                lease_until=None,
                leased_by=None,
            )
        )
        self.conn.commit()
        return int(result.rowcount)

    def renew(self, until: datetime) -> int:
        """Extend this worker's lease on the rows it still holds, so that a long batch
        (slow server, low rate) is never swept back to the queue while it is being sent."""
        self.settle()
        table = DELIVERIES
        result = self.conn.execute(
            update(table)
            .where(
                table.c.edition_id == self.edition_id,
                table.c.status == "sending",
                table.c.leased_by == self.worker,
            )
            .values(lease_until=until)
        )
        self.conn.commit()
        return int(result.rowcount)

    def edition_status(self) -> str | None:
        self.settle()
        status = self.conn.scalar(select(Edition.status).where(Edition.id == self.edition_id))
        self.conn.commit()
        return status

    def count_error(self) -> int:
        self.settle()
        value = self.conn.scalar(
            update(Edition)
            .where(Edition.id == self.edition_id)
            .values(
                consecutive_errors=Edition.consecutive_errors + 1, updated_at=Edition.updated_at
            )
            .returning(Edition.consecutive_errors)
        )
        self.conn.commit()
        return int(value or 0)

    def reset_errors(self) -> None:
        self.settle()
        self.conn.execute(
            update(Edition)
            .where(Edition.id == self.edition_id, Edition.consecutive_errors != 0)
            .values(consecutive_errors=0, updated_at=Edition.updated_at)
        )
        self.conn.commit()

    def pause(self, reason: str) -> bool:
        self.settle()
        result = self.conn.execute(
            update(Edition)
            .where(Edition.id == self.edition_id, Edition.status == "sending")
            .values(status="paused", status_reason=reason[:2000])
        )
        self.conn.commit()
        return bool(result.rowcount)


# `_Marks._sent`, as a server-side prepared statement (see `_Marks`).
_PG_SENT_NAME = b"dispatch_mark_sent"
_PG_SENT = (
    "UPDATE deliveries SET status = 'sent', message_id = $1, smtp_reply = $2,"
    " sent_at = $3, attempts = attempts + 1, lease_until = NULL, leased_by = NULL,"
    " error = NULL WHERE id = $4 AND status IN ('queued', 'sending')"
)


def _param(name: str) -> Any:
    return bindparam(name)


def _engine_of(sessions: sessionmaker[Session]) -> Any:
    return sessions.kw["bind"]


def send_next_batch(
    sessions: sessionmaker[Session],
    edition_id: int,
    *,
    settings: Settings,
    transport: MailTransport,
    throttle: Throttle,
    worker: str | None = None,
    retry_delay: Callable[[int], timedelta] = default_retry_delay,
) -> BatchReport:
    """Claim one batch of `edition_id`, send it through `transport`, record every outcome.

    Does nothing unless the edition is sending. Returns what happened; when `report.more`
    is true the caller enqueues another batch (after this call, nothing is left to commit).
    """
    worker = worker or worker_identity()
    report = BatchReport(edition_id)
    mail = settings.mail
    with sessions() as session, session.begin():
        status = session.scalar(select(Edition.status).where(Edition.id == edition_id))
        if status != "sending":
            report.stopped = f"edition is {status or 'missing'}"
            return report
        claimed, report.skipped = claim_batch(
            session, edition_id, settings=settings, worker=worker, limit=mail.batch_size
        )
    report.claimed = len(claimed) + report.skipped
    if claimed:
        _send_claimed(
            sessions,
            edition_id,
            claimed,
            report,
            settings,
            transport,
            throttle,
            worker,
            retry_delay,
        )
    with sessions() as session, session.begin():
        now = utcnow()
        report.finished = finish_if_done(session, edition_id, now=now)
        still_sending = (
            session.scalar(select(Edition.status).where(Edition.id == edition_id)) == "sending"
        )
        report.more = (
            still_sending and report.claimed > 0 and has_due_rows(session, edition_id, now)
        )
    return report


def _send_claimed(
    sessions: sessionmaker[Session],
    edition_id: int,
    claimed: list[_Claimed],
    report: BatchReport,
    settings: Settings,
    transport: MailTransport,
    throttle: Throttle,
    worker: str,
    retry_delay: Callable[[int], timedelta],
) -> None:
    mail = settings.mail
    secret = settings.secret_key
    bounce_domain = settings.bounce_domain
    pending = [row.delivery_id for row in claimed]
    position = 0
    with _engine_of(sessions).connect() as conn, _Marks(conn, edition_id, worker) as marks:
        try:
            with sessions() as session:
                prepared = _prepare(session, edition_id, settings)
        except CompositionError as error:
            marks.pause(f"The edition cannot be composed: {error}")
            report.released = marks.release(pending)
            report.stopped = str(error)
            return
        factory = prepared.factory
        domain = factory.message_id_domain
        allowance = 0
        errors_seen = False
        next_check = time.monotonic() + STATUS_CHECK_SECONDS
        lease = timedelta(seconds=mail.lease_seconds)
        renew_at = time.monotonic() + lease.total_seconds() / 3
        try:
            with transport:
                for position, row in enumerate(claimed):
                    if time.monotonic() >= next_check:
                        next_check = time.monotonic() + STATUS_CHECK_SECONDS
                        if time.monotonic() >= renew_at:
                            renew_at = time.monotonic() + lease.total_seconds() / 3
                            marks.renew(utcnow() + lease)
                        status = marks.edition_status()
                        if status != "sending":
                            report.stopped = f"edition {status}"
                            break
                    if allowance == 0:
                        try:
                            allowance = throttle.acquire(
                                min(len(claimed) - position, chunk_size(mail.rate_per_second))
                            )
                        except HourlyLimitReached as limit:
                            report.stopped = str(limit)
                            report.released += marks.release(
                                [r.delivery_id for r in claimed[position:]],
                                next_at=limit.resume_at,
                            )
                            position = len(claimed)
                            break
                    allowance -= 1
                    outcome, message_id = _send_one(
                        row,
                        prepared,
                        factory,
                        transport,
                        settings,
                        secret,
                        bounce_domain,
                        domain,
                        marks.settle,
                    )
                    if outcome is None:
                        marks.other(
                            row.delivery_id,
                            "skipped",
                            error="nothing in the reader's topics",
                            tried=0,
                        )
                        report.skipped += 1
                        continue
                    if outcome.ok:
                        marks.sent(row.delivery_id, message_id, outcome.summary())
                        report.sent += 1
                        if errors_seen:
                            marks.reset_errors()
                            errors_seen = False
                        continue
                    errors_seen = _record_failure(
                        sessions, marks, row, outcome, report, settings, retry_delay
                    )
                    if errors_seen:
                        count = marks.count_error()
                        if count >= mail.pause_after_errors:
                            reason = (
                                f"Paused automatically after {count} consecutive errors; "
                                f"the last one: {outcome.summary()}"
                            )
                            if marks.pause(reason):
                                log.warning("edition %s: %s", edition_id, reason)
                            report.stopped = reason
                            position += 1
                            break
                else:
                    position = len(claimed)
        finally:
            rest = [row.delivery_id for row in claimed[position:]]
            if rest:
                cancelled = marks.edition_status() == "cancelled"
                report.released += marks.release(
                    rest,
                    status="skipped" if cancelled else "queued",
                    error="edition cancelled" if cancelled else None,
                )


def _send_one(
    row: _Claimed,
    prepared: _Prepared,
    factory: MessageFactory,
    transport: MailTransport,
    settings: Settings,
    secret: str,
    bounce_domain: str,
    domain: str,
    before_send: Callable[[], None],
) -> tuple[SendOutcome | None, str]:
    """Send one row; None when a digest has nothing for this reader.

    `before_send` runs once the message is built, just before it goes out: the previous
    row's mark is committed while this one is being built, never after it is sent.
    """
    compiled = prepared.compilation.for_locale(row.locale)
    recipient = RecipientView(
        email=row.email,
        name=row.name,
        locale=row.locale,
        unsubscribe_url=audience.unsubscribe_url(settings, row.subscriber_id),
        preferences_url=audience.preferences_url(settings, row.subscriber_id),
        topics=row.topics,
        unsubscribe_mailto="mailto:"
        + verp.encode_unsubscribe(
            settings.mail.bounce_local_part, bounce_domain, row.subscriber_id, secret
        )
        + "?subject=unsubscribe",
    )
    if compiled.by_topic and not compiled.has_content_for(recipient):
        return None, ""
    token = verp.make_token(row.delivery_id, secret)
    # The same Message-ID for every attempt: a repeat after a crash is one message to
    # receivers that de-duplicate, and a complaint quoting it still finds its row.
    message_id = f"<{token}.e{prepared.compilation.edition_id}@{domain}>"
    try:
        built = factory.build(
            personalise(compiled, recipient),
            message_id=message_id,
            envelope_from=verp.encode(
                settings.mail.bounce_local_part, bounce_domain, row.delivery_id, secret
            ),
            extra_headers=[(verp.DELIVERY_HEADER, token)],
        )
    except HeaderError as error:
        return SendOutcome(SendStatus.FAILED, reason=f"cannot build the message: {error}"), ""
    before_send()
    return transport.send(built.envelope_from, built.recipient, built.data), message_id


def _record_failure(
    sessions: sessionmaker[Session],
    marks: _Marks,
    row: _Claimed,
    outcome: SendOutcome,
    report: BatchReport,
    settings: Settings,
    retry_delay: Callable[[int], timedelta],
) -> bool:
    """Write a refusal on the row; True when it counts towards the automatic pause."""
    summary = outcome.summary()
    if outcome.status is SendStatus.BOUNCED:
        with sessions() as session, session.begin():
            session.execute(
                update(Delivery)
                .where(Delivery.id == row.delivery_id, Delivery.status == "sending")
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
            audience.mark_bounced(
                session, settings, row.subscriber_id, hard=True, source="delivery"
            )
        report.bounced += 1
        return False
    attempts = row.attempts + 1
    if outcome.status is SendStatus.RETRY and attempts < settings.mail.max_attempts:
        marks.other(
            row.delivery_id,
            "queued",
            error=summary,
            reply=summary,
            next_at=utcnow() + retry_delay(attempts),
        )
        report.retried += 1
        return True
    error = (
        summary
        if outcome.status is SendStatus.FAILED
        else (f"gave up after {attempts} attempts: {summary}")
    )
    marks.other(row.delivery_id, "failed", error=error, reply=summary)
    report.failed += 1
    return True


def rows_by_status(session: Session, edition_id: int) -> dict[str, int]:
    """How many rows of the edition are in each status (every status present, zeros too)."""
    counts = dict.fromkeys(("queued", "sending", "sent", "failed", "bounced", "skipped"), 0)
    for status, count in session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    ):
        counts[status] = count
    return counts


__all__ = [
    "BatchReport",
    "EditionStateError",
    "StartResult",
    "build_audience",
    "claim_batch",
    "finish_if_done",
    "send_next_batch",
    "start_edition",
]
