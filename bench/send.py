"""Sending throughput: an edition to N recipients on PostgreSQL + Redis, 2 worker processes,
to a minimal local SMTP sink; and, in the same run, the raw limit of that sink (pre-built
messages pushed with smtplib over as many connections).

    .venv/bin/python bench/send.py [--recipients 100000] [--workers 2]

Reports messages/second, the ratio to the raw limit, time to first message, and peak RSS
per worker process (at 10,000 messages and at the end, to show memory stays flat).
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from dispatch.delivery import service  # noqa: E402
from dispatch.delivery.mime import MessageFactory  # noqa: E402
from dispatch.delivery.models import Delivery  # noqa: E402
from dispatch.editions.compose import compile_edition, personalise  # noqa: E402
from dispatch.editions.samples import sample_branding  # noqa: E402
from dispatch.editions.views import EditionView, ItemView, RecipientView  # noqa: E402
from tests import processes, servers  # noqa: E402
from tests.delivery import sending  # noqa: E402
from tests.smtp_sink import SinkProcess  # noqa: E402
from workers.app import create_celery  # noqa: E402


def _push(port: int, messages: list[bytes], out: Any) -> None:
    smtp = smtplib.SMTP("127.0.0.1", port)
    for data in messages:
        smtp.sendmail("bounces@lettre.example", ["lectrice@example.org"], data)
    smtp.quit()
    out.put(len(messages))


def raw_limit(port: int, connections: int, count: int) -> float:
    """Messages/s of pre-built messages over `connections` smtplib connections."""
    view = EditionView(
        kind="newsletter",
        subject="La lettre",
        items=(ItemView(id=1, kind="post", title="Un article", url="https://example.org/1"),),
    )
    compiled = compile_edition(view, sample_branding())
    factory = MessageFactory(sample_branding(), list_id="lettre.example")
    message = factory.build(
        personalise(compiled, RecipientView(email="lectrice@example.org", name="Lectrice"))
    ).data
    per = count // connections
    queue: Any = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_push, args=(port, [message] * per, queue))
        for _ in range(connections)
    ]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    return per * connections / elapsed


def _rss(procs: list[psutil.Process]) -> list[int]:
    """RSS of each worker's pool process (the one that sends), in bytes."""
    sizes = []
    for proc in procs:
        try:
            family = [proc, *proc.children(recursive=True)]
            sizes.append(max(p.memory_info().rss for p in family))
        except psutil.NoSuchProcess:
            sizes.append(0)
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-send-"))
    pg, redis = servers.start_postgres(), servers.start_redis()
    sink = SinkProcess(record=tmp / "counts.json", count_only=True).start()
    workers: list[Any] = []
    try:
        url = servers.create_database(pg, "bench_send")
        db_engine, sessions = sending.migrated(url)
        raw = raw_limit(sink.port, args.workers, min(args.recipients, 20_000))
        print(f"raw limit: {raw:,.0f} messages/s over {args.workers} connections", flush=True)

        topic = "bench"
        t0 = time.perf_counter()
        sending.populate(sessions, args.recipients, topic=topic)
        edition_id = sending.make_edition(sessions, topic=topic)
        print(f"{args.recipients:,} subscribers created in {time.perf_counter() - t0:.1f} s")
        settings = sending.make_settings(
            tmp, url, broker_url=redis.url, smtp_port=sink.port, batch_size=args.batch_size
        )
        env = processes.dispatch_env(
            data_dir=tmp / "var",
            database_url=url,
            broker_url=redis.url,
            DISPATCH_SECURITY__SECRET_KEY="bench-secret",
            DISPATCH_APP__LOG_LEVEL="WARNING",
            DISPATCH_MAIL__TRANSPORT="smtp",
            DISPATCH_MAIL__SMTP_HOST="127.0.0.1",
            DISPATCH_MAIL__SMTP_PORT=str(sink.port),
            DISPATCH_MAIL__SMTP_SECURITY="none",
            DISPATCH_MAIL__RATE_PER_SECOND="1000000",
            DISPATCH_MAIL__RATE_PER_HOUR="100000000",
            DISPATCH_MAIL__BATCH_SIZE=str(args.batch_size),
        )
        workers = [
            processes.start_worker(env, tmp / f"worker-{n}.log", concurrency=1)
            for n in range(args.workers)
        ]
        time.sleep(4)  # workers ready
        procs = [psutil.Process(w.pid) for w in workers]

        start = time.perf_counter()
        with sessions() as session, session.begin():
            result = service.send_now(session, edition_id, settings=settings)
        celery = create_celery(settings)
        for _ in range(max(result.batches, args.workers * 2)):
            celery.send_task("delivery.send_batch", args=[edition_id])
        snapshot_at = time.perf_counter() - start
        first = None
        peak = [0] * args.workers
        at_10k: list[int] | None = None
        while True:
            time.sleep(0.25)
            peak = [max(a, b) for a, b in zip(peak, _rss(procs), strict=True)]
            with sessions() as session:
                sent = (
                    session.scalar(
                        select(func.count()).where(
                            Delivery.edition_id == edition_id, Delivery.status == "sent"
                        )
                    )
                    or 0
                )
                status = sending.edition_row(sessions, edition_id).status
            if sent and first is None:
                first = time.perf_counter() - start
            if sent >= 10_000 and at_10k is None:
                at_10k = list(peak)
            if status != "sending":
                break
        elapsed = time.perf_counter() - start
        counts = sending.counts(sessions, edition_id)
        rate = counts.get("sent", 0) / elapsed
        mb = 1024 * 1024
        print(f"edition {status}: {counts}")
        print(f"audience snapshot + enqueue: {snapshot_at:.2f} s")
        print(f"time to first message: {first:.2f} s")
        print(f"end to end: {rate:,.0f} messages/s ({elapsed:.1f} s), {rate / raw:.0%} of raw")
        print("peak RSS per worker: " + ", ".join(f"{p / mb:.0f} MB" for p in peak))
        if at_10k:
            print("peak RSS at 10,000 messages: " + ", ".join(f"{p / mb:.0f} MB" for p in at_10k))
        db_engine.dispose()
    finally:
        for worker in workers:
            processes.stop(worker)
        sink.stop()
        redis.stop()
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
