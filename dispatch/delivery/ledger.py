"""The delivery ledger's writer: each outcome recorded and committed right after the reply.

A row is marked sent (or failed, bounced, queued again) in its own short transaction on one
kept connection, and that commit is durable before the next message goes out, so a crash of
the worker or of the database server repeats at most the message in flight. The reader's
receipts (the items their copy showed) are written by the same statement that marks the row
sent, so they are exactly what was sent, after any crash. The same connection reads the
edition's status (pause, cancel) and counts errors.
"""

from __future__ import annotations

import select as select_module
from datetime import datetime
from typing import Any, cast

from psycopg import pq
from sqlalchemy import Connection, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dispatch.audience.models import Receipt
from dispatch.db import utcnow
from dispatch.delivery.models import Delivery
from dispatch.editions.models import Edition

DELIVERIES = cast(Table, Delivery.__table__)
OPEN_STATUSES = ("queued", "sending")
STATUSES = ("queued", "sending", "sent", "failed", "bounced", "skipped")


class MarkError(Exception):
    """The database refused to record an outcome; the batch stops and its lease expires."""


def _param(name: str) -> Any:
    return bindparam(name)


# `OutcomeWriter._sent` and the reader's receipts, as one server-side prepared statement.
_PG_SENT_NAME = b"dispatch_mark_sent_with_receipts"
_PG_SENT = (
    "WITH marked AS (UPDATE deliveries SET status = 'sent', message_id = $1, smtp_reply = $2,"
    " sent_at = $3, attempts = attempts + 1, lease_until = NULL, leased_by = NULL,"
    " error = NULL WHERE id = $4 AND status IN ('queued', 'sending')"
    " RETURNING subscriber_id, edition_id, sent_at)"
    " INSERT INTO receipts (subscriber_id, item_id, edition_id, channel, received_at)"
    " SELECT marked.subscriber_id, item, marked.edition_id, $6, marked.sent_at"
    " FROM marked CROSS JOIN unnest($5::integer[]) AS item"
    " WHERE marked.subscriber_id IS NOT NULL ON CONFLICT DO NOTHING"
)
RECEIPTS = cast(Table, Receipt.__table__)


class OutcomeWriter:
    """Outcomes written one by one, each committed at once, on one kept connection.

    On PostgreSQL the connection runs in autocommit, and a sent mark is one prepared
    ``UPDATE`` by primary key handed straight to libpq without waiting for the answer. The
    commit is synchronous (``synchronous_commit`` is turned back on for this connection if
    the server has it off): when `settle` returns, the mark is in the write-ahead log on disk
    and survives a crash of the database server. The engine builds the next message and
    sends all of it but its final dot while the mark commits, then calls `settle` before
    that dot delivers the message (`MailTransport.send(before_commit=…)`): a crash anywhere
    repeats at most the one message in flight, and the flush overlaps with the next
    message's work; PostgreSQL groups the flushes of concurrent workers into one. Elsewhere
    (SQLite) every mark is its own transaction, written before `sent` returns.
    """

    def __init__(self, conn: Connection, edition_id: int, worker: str) -> None:
        self.edition_id = edition_id
        self.worker = worker
        self._pgconn: Any = None
        self._pending = False
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            # "off" would let a server crash lose marks already acknowledged; any stronger
            # level the server was configured with (remote_write, remote_apply…) is kept.
            if conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off":
                conn.exec_driver_sql("SET synchronous_commit TO on")
            prepared = conn.exec_driver_sql(
                "SELECT 1 FROM pg_prepared_statements WHERE name = %(name)s",
                {"name": _PG_SENT_NAME.decode()},
            ).first()
            if prepared is None:
                conn.exec_driver_sql(f"PREPARE {_PG_SENT_NAME.decode()} AS {_PG_SENT}")
            self._pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
        self.conn = conn
        # Receipts name the channel: the edition's kind.
        self.channel = conn.scalar(select(Edition.kind).where(Edition.id == edition_id)) or ""
        if self._pgconn is None:
            conn.commit()  # SQLite: every transaction holds the write lock
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

    def __enter__(self) -> OutcomeWriter:
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

    def sent(
        self,
        row_id: int,
        message_id: str,
        reply: str,
        *,
        reader: int | None = None,
        items: tuple[int, ...] = (),
    ) -> None:
        """Record a message as sent, with `reader`'s receipts for the `items` it showed; on
        PostgreSQL, committed by the next `settle`."""
        if self._pgconn is None:
            at = utcnow()
            marked = self.conn.execute(
                self._sent,
                {"row_id": row_id, "message_id": message_id, "reply": reply, "at": at},
            )
            if marked.rowcount and reader is not None and items:
                self.conn.execute(
                    sqlite_insert(RECEIPTS).on_conflict_do_nothing(),
                    [
                        {
                            "subscriber_id": reader,
                            "item_id": item,
                            "edition_id": self.edition_id,
                            "channel": self.channel,
                            "received_at": at,
                        }
                        for item in items
                    ],
                )
            self.conn.commit()
            return
        self.settle()
        stamp = utcnow().isoformat()
        values = [
            message_id.encode(),
            reply.encode(),
            stamp.encode(),
            str(row_id).encode(),
            ("{" + ",".join(map(str, items)) + "}").encode(),
            self.channel.encode(),
        ]
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
        """A message went through: the error count, and what the errors said, are over."""
        self.settle()
        self.conn.execute(
            update(Edition)
            .where(Edition.id == self.edition_id, Edition.consecutive_errors != 0)
            .values(consecutive_errors=0, updated_at=Edition.updated_at)
        )
        self.conn.execute(
            update(Edition)
            .where(
                Edition.id == self.edition_id,
                Edition.status == "sending",
                Edition.status_reason.is_not(None),
            )
            .values(status_reason=None, updated_at=Edition.updated_at)
        )
        self.conn.commit()

    def note(self, reason: str) -> None:
        """Say on a sending edition why it is not progressing (it goes on trying)."""
        self.settle()
        self.conn.execute(
            update(Edition)
            .where(Edition.id == self.edition_id, Edition.status == "sending")
            .values(status_reason=reason[:2000], updated_at=Edition.updated_at)
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


def finish_if_done(session: Session, edition_id: int, *, now: datetime | None = None) -> bool:
    """Mark a sending edition sent when its audience snapshot is complete and none of its
    rows is queued or sending.

    "Complete" is read first: the last chunk of rows commits with it, so once it is seen
    every row is visible to the next statement. Read the other way round, a chunk committed
    between the two reads closed an edition with its last readers still queued.
    """
    built = session.execute(
        select(Edition.audience_built_at, Edition.max_subscriber_id).where(Edition.id == edition_id)
    ).first()
    if built is None or (built[0] is None and built[1] is not None):
        return False
    open_row = session.scalar(
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.status.in_(OPEN_STATUSES))
        .limit(1)
    )
    if open_row is not None:
        return False
    done = session.execute(
        update(Edition)
        .where(
            Edition.id == edition_id,
            Edition.status == "sending",
            or_(Edition.audience_built_at.is_not(None), Edition.max_subscriber_id.is_(None)),
        )
        .values(status="sent", finished_at=now or utcnow(), status_reason=None)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def rows_by_status(session: Session, edition_id: int) -> dict[str, int]:
    """How many rows of the edition are in each status (every status present, zeros too)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    ):
        counts[status] = count
    return counts
