"""The audience snapshot streams: sending starts on the first rows, the rest follows in
committed chunks, a writer that dies is replaced, and nobody is in it twice or missing."""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audience.models import Subscriber
from dispatch.config import Settings
from dispatch.db import utcnow
from dispatch.delivery import controls, leases, ledger, sending, snapshot, sweeper
from dispatch.delivery.models import Delivery
from dispatch.delivery.outbox import OutboxTransport
from dispatch.delivery.throttle import DatabaseThrottle
from dispatch.editions.models import Edition
from tests import processes, servers
from tests.delivery import bulk
from tests.delivery.live import MakeSend


def _settings(tmp_path: Path, sessions: sessionmaker[Session], **mail: object) -> Settings:
    engine = sessions.kw["bind"]
    return bulk.make_settings(tmp_path, engine.url.render_as_string(hide_password=False), **mail)


def _mailer(settings: Settings, sessions: sessionmaker[Session]) -> sending.Mailer:
    return sending.Mailer(
        settings,
        OutboxTransport(settings.mail_outbox_dir, fsync=False),
        DatabaseThrottle(sessions, 100_000, 10_000_000),
    )


def _rows(sessions: sessionmaker[Session], edition_id: int) -> Counter[int]:
    with sessions() as session:
        return Counter(
            session.scalars(select(Delivery.subscriber_id).where(Delivery.edition_id == edition_id))
        )


def _edition(sessions: sessionmaker[Session], edition_id: int) -> Edition:
    return bulk.edition_row(sessions, edition_id)


def _dead_holder() -> str:
    """The lease holder name of a process of this machine that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{leases.worker_identity().rsplit('/', 1)[0]}/{child.pid}"


def test_sending_starts_on_the_first_rows_and_the_edition_waits_for_the_rest(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = bulk.unique_topic()
    bulk.populate(sessions, 60, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, sessions, batch_size=5, transport="outbox")
    with sessions() as session, session.begin():
        started = controls.send_now(session, edition_id, settings=settings)
    # The first rows feed every parallel batch; the rest is written afterwards.
    assert started.audience_pending
    assert started.recipients == 5 * snapshot.PARALLEL_BATCHES
    assert started.batches == snapshot.PARALLEL_BATCHES

    # Batches send what is there and keep their chain going while more may come.
    for _ in range(4):
        report = sending.send_next_batch(sessions, edition_id, _mailer(settings, sessions))
        assert report.sent == 5 and report.more
    report = sending.send_next_batch(sessions, edition_id, _mailer(settings, sessions))
    assert report.claimed == 0 and report.more
    # Nothing is open, but the audience is not complete: the edition is not sent.
    with sessions() as session, session.begin():
        assert not ledger.finish_if_done(session, edition_id)
        assert controls.status(session, edition_id)["audience_complete"] is False
    assert _edition(sessions, edition_id).status == "sending"

    monkeypatch.setattr(snapshot, "AUDIENCE_CHUNK", 15)
    assert snapshot.continue_audience(sessions, edition_id) == 3  # ids 21-35, 36-50, 51-60
    edition = _edition(sessions, edition_id)
    assert edition.audience_built_at is not None and edition.recipients_total == 60
    assert edition.audience_leased_by is None
    while (
        report := sending.send_next_batch(sessions, edition_id, _mailer(settings, sessions))
    ).more:
        pass
    assert report.finished
    rows = _rows(sessions, edition_id)
    assert len(rows) == 60 and set(rows.values()) == {1}
    assert bulk.counts(sessions, edition_id) == {"sent": 60}


@pytest.mark.parametrize("committed_engine", ["postgres"], indirect=True)
def test_an_edition_is_not_marked_sent_while_its_last_chunk_is_being_committed(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The last chunk and "snapshot complete" commit together: a batch closing the edition
    at that moment must not see "no open row" before the commit and "complete" after it
    (that closed an edition with five readers still queued)."""
    topic = bulk.unique_topic()
    bulk.populate(sessions, 60, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, sessions, batch_size=5, transport="outbox")
    with sessions() as session, session.begin():
        assert controls.send_now(session, edition_id, settings=settings).audience_pending
    while sending.send_next_batch(sessions, edition_id, _mailer(settings, sessions)).claimed:
        pass

    writer = sessions()
    writer.begin()
    edition = writer.get(Edition, edition_id, with_for_update=True)
    assert edition is not None
    snapshot.build_audience(writer, edition)  # the rest, in one uncommitted transaction
    assert edition.audience_built_at is not None

    # The writer commits right after the closing batch's first query, the moment of the race.
    engine = sessions.kw["bind"]
    closing = False

    def commit_writer(*_: object) -> None:
        nonlocal closing
        if closing:
            closing = False
            writer.commit()
            writer.close()

    event.listen(engine, "after_cursor_execute", commit_writer)
    try:
        with sessions() as session, session.begin():
            closing = True
            finished = [ledger.finish_if_done(session, edition_id)]
    finally:
        event.remove(engine, "after_cursor_execute", commit_writer)
    assert finished == [False]
    assert _edition(sessions, edition_id).status == "sending"
    while sending.send_next_batch(sessions, edition_id, _mailer(settings, sessions)).more:
        pass
    assert _edition(sessions, edition_id).status == "sent"
    assert bulk.counts(sessions, edition_id) == {"sent": 60}


def test_readers_who_join_while_the_snapshot_is_written_are_not_in_it(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic = bulk.unique_topic()
    bulk.populate(sessions, 30, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, sessions, batch_size=2)
    with sessions() as session, session.begin():
        assert controls.send_now(session, edition_id, settings=settings).audience_pending
    late = bulk.populate(sessions, 5, topic=topic, prefix=f"{topic}-late")
    snapshot.continue_audience(sessions, edition_id)

    assert _edition(sessions, edition_id).recipients_total == 30
    with sessions() as session:
        late_ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(late))).all()
    assert not set(late_ids) & set(_rows(sessions, edition_id))


def test_a_snapshot_left_by_a_dead_writer_is_handed_on_and_a_live_one_is_left_alone(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic = bulk.unique_topic()
    bulk.populate(sessions, 30, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, sessions, batch_size=2)
    with sessions() as session, session.begin():
        controls.send_now(session, edition_id, settings=settings)
        edition = session.get(Edition, edition_id)
        assert edition is not None
        edition.audience_leased_by = leases.worker_identity()  # this test: alive
        edition.audience_lease_until = utcnow() + timedelta(minutes=1)

    with sessions() as session, session.begin():
        assert edition_id not in sweeper.sweep(session, settings=settings).audiences
    # Another writer leaves a snapshot held by a live process alone.
    assert snapshot.continue_audience(sessions, edition_id, worker="elsewhere/1/1") == 0

    with sessions() as session, session.begin():
        edition = session.get(Edition, edition_id)
        assert edition is not None
        edition.audience_leased_by = _dead_holder()
    with sessions() as session, session.begin():
        assert edition_id in sweeper.sweep(session, settings=settings).audiences
    assert snapshot.continue_audience(sessions, edition_id, worker="elsewhere/1/1") == 1
    assert _edition(sessions, edition_id).audience_built_at is not None
    assert len(_rows(sessions, edition_id)) == 30


def test_a_cancelled_edition_stops_its_snapshot(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    topic = bulk.unique_topic()
    bulk.populate(sessions, 30, topic=topic)
    edition_id = bulk.make_edition(sessions, topic=topic)
    settings = _settings(tmp_path, sessions, batch_size=2)
    with sessions() as session, session.begin():
        controls.send_now(session, edition_id, settings=settings)
        controls.cancel(session, edition_id)
    assert snapshot.continue_audience(sessions, edition_id) == 0
    with sessions() as session, session.begin():
        assert edition_id not in sweeper.sweep(session, settings=settings).audiences
    assert bulk.counts(sessions, edition_id) == {"skipped": 8}


# End to end: PostgreSQL, Redis, worker processes.


@pytest.mark.slow
def test_the_first_message_leaves_before_a_200000_row_snapshot_is_complete(
    make_send: MakeSend, postgres_url: str, redis_server: servers.Server
) -> None:
    send = make_send(postgres_url, redis_server.url, 200_000, batch_size=250, every=1)
    send.start_worker()
    result = send.start()
    assert result.audience_pending and result.recipients == 1000

    processes.wait_until(lambda: bool(send.sink.records()), timeout=60, what="a first message")
    edition = _edition(send.sessions, send.edition_id)
    assert edition.audience_built_at is None, "the first message left while it was written"
    assert edition.max_subscriber_id is not None
    assert (edition.audience_cursor or 0) < edition.max_subscriber_id
    with send.sessions() as session, session.begin():
        controls.cancel(session, send.edition_id)


@pytest.mark.slow
def test_a_snapshot_writer_killed_midway_is_replaced_and_everyone_gets_it_once(
    make_send: MakeSend, postgres_url: str, redis_server: servers.Server
) -> None:
    # 100,000 subscribers, one in 25 a reader: fifteen chunks to write after the first rows
    # (fewer, and the writer may be done before the test can stop it midway).
    send = make_send(postgres_url, redis_server.url, 100_000, batch_size=250, every=25)
    writer = send.start_worker(concurrency=1, queues="snapshot-writer")
    send.start_worker()
    send.start(audience_queue="snapshot-writer")
    low = _edition(send.sessions, send.edition_id).audience_cursor or 0

    def writing() -> bool:
        return (_edition(send.sessions, send.edition_id).audience_cursor or 0) > low

    processes.wait_until(writing, timeout=60, what="the writer's first chunk", interval=0.01)
    with send.sessions() as session, session.begin():
        # Holding the edition's row stops the writer before its next chunk: killed midway.
        session.execute(select(Edition.id).where(Edition.id == send.edition_id).with_for_update())
        processes.kill_hard(writer)
        at_kill = session.get(Edition, send.edition_id)
        assert at_kill is not None and at_kill.max_subscriber_id is not None
        assert at_kill.audience_built_at is None and at_kill.audience_leased_by is not None
        assert low < (at_kill.audience_cursor or 0) < at_kill.max_subscriber_id

    send.start_worker(concurrency=1)  # the writer's place taken again
    send.wait_sent(timeout=120)

    received = send.received()
    assert received == Counter(send.readers)
    assert bulk.counts(send.sessions, send.edition_id) == {"sent": len(send.readers)}
