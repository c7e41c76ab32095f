"""Sending throughput: one edition to N recipients through the real sending engine, and the
raw limit of the same SMTP sink measured in the same run.

    .venv/bin/python bench/send.py [--recipients 100000] [--workers 2] [--batch-size 1000]
                                   [--items 8] [--durable]

Needs: PostgreSQL and Redis binaries (started on loopback by `tests/servers.py`, as for the
tests) and a C compiler (`cc`/`gcc`): `bench/smtp_sink.c`, a minimal SMTP sink (one thread,
epoll, PIPELINING advertised, 250 to everything, counting messages and storing nothing), is
compiled into a temporary folder. The sink is fast enough that the figures measure dispatch,
not the sink.

What it does, in order:

1. Starts PostgreSQL, Redis and the sink; migrates a fresh database; creates N confirmed
   subscribers (written by PostgreSQL itself) and one newsletter edition for them.
   PostgreSQL runs without fsync, like the tests' server, unless `--durable`: then with
   fsync and full-page writes, as in production, which is what the synchronous commit of
   each mark costs on this machine's disk.
2. Raw limit: one message of that edition, built once by the engine's own code for its
   first reader (same size, headers and VERP envelope as every real copy), pushed with
   smtplib (MAIL, RCPT, DATA, one round trip each, no pipelining) by `--workers`
   processes with one connection each, min(N, 20,000) messages in all. Messages/s over
   the same number of connections.
3. End to end: starts `--workers` Celery worker processes (concurrency 1, the default
   Redis throttle and SMTP transport), starts the edition as `dispatch editions send --now`
   does (the first rows of the audience snapshot, commit, enqueue the batch tasks and the
   task that writes the rest of the snapshot) and waits until the edition is `sent`.

Reports:

- raw messages/s;
- end to end: sent rows / time from the start of the edition (`send_now`, audience snapshot
  included) to its `sent` status, and its ratio to the raw limit; also the rate from the
  first message to the end ("sending alone"), which leaves the snapshot out;
- time to first message: start of the edition to the first message complete at the sink;
- when the audience snapshot was complete (written while sending);
- CPU milliseconds per message spent by the workers, PostgreSQL, Redis and the sink, and by
  the whole machine (other load on the machine shows up as the difference);
- RSS per worker (its largest process, the pool child that sends) when ready, at 10,000
  sent messages and at the end: memory stays flat in the number of recipients;
- a check that the sink received exactly as many messages as rows were marked sent.

`--profile DIR` records each sending process with py-spy (collapsed stacks, one file per
worker) for the whole send. The machine's other load moves the figures by 10-20 %: run it
on a quiet machine, and more than once.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from dispatch.audience.models import Subscriber  # noqa: E402
from dispatch.delivery import controls, prepared, sending  # noqa: E402
from dispatch.delivery.claims import Recipient  # noqa: E402
from dispatch.delivery.models import Delivery  # noqa: E402
from dispatch.editions.models import Edition  # noqa: E402
from tests import processes, servers  # noqa: E402
from tests.delivery import bulk  # noqa: E402
from workers.app import create_celery  # noqa: E402

SINK_SOURCE = Path(__file__).with_name("smtp_sink.c")
MB = 1024 * 1024


class CSink:
    """`bench/smtp_sink.c`, compiled into `folder` and run as a subprocess."""

    def __init__(self, folder: Path) -> None:
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SystemExit("bench/send.py needs a C compiler (apt-get install gcc)")
        binary = folder / "smtp_sink"
        subprocess.run([compiler, "-O2", "-o", str(binary), str(SINK_SOURCE)], check=True)
        self.proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.first: float | None = None
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self._expect("port").split()[1])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("first "):
                self.first = float(line.split()[1])
            else:
                self.lines.put(line.strip())

    def _expect(self, word: str) -> str:
        while True:
            line = self.lines.get(timeout=10)
            if line.startswith(word):
                return line

    def counts(self) -> dict[str, int]:
        """Messages, connections and bytes received since the last reset."""
        self.proc.send_signal(signal.SIGUSR1)
        words = self._expect("messages").split()
        return {words[i]: int(words[i + 1]) for i in range(0, len(words), 2)}

    def reset(self) -> None:
        self.first = None
        self.proc.send_signal(signal.SIGUSR2)
        self._expect("reset")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _push(port: int, envelope_from: str, recipient: str, message: bytes, count: int) -> None:
    smtp = smtplib.SMTP("127.0.0.1", port)
    for _ in range(count):
        smtp.sendmail(envelope_from, [recipient], message)
    smtp.quit()


def sample_message(sessions: Any, edition_id: int, settings: Any) -> tuple[str, str, bytes]:
    """One message of the edition, built by the engine's own code for its first reader:
    (envelope from, recipient, bytes), the same size and headers as every real copy."""
    with sessions() as session:
        ready = prepared.prepare(session, edition_id, settings)
        person = session.execute(
            select(Subscriber.id, Subscriber.email, Subscriber.name, Subscriber.locale).order_by(
                Subscriber.id
            )
        ).first()
    row = Recipient(1, person.id, person.email, person.name, person.locale, 0)
    message = sending.build_message(ready, row, settings)
    assert message is not None
    return message.envelope_from, message.recipient, bytes(message.data)


def raw_limit(port: int, connections: int, count: int, sample: tuple[str, str, bytes]) -> float:
    """Messages/s of one pre-built message over `connections` smtplib connections."""
    per = count // connections
    context = multiprocessing.get_context("fork")
    pushers = [context.Process(target=_push, args=(port, *sample, per)) for _ in range(connections)]
    start = time.perf_counter()
    for pusher in pushers:
        pusher.start()
    for pusher in pushers:
        pusher.join()
    return per * connections / (time.perf_counter() - start)


def _rss(procs: list[psutil.Process]) -> list[int]:
    """RSS of each worker's largest process (the pool child that sends), in bytes."""
    sizes = []
    for proc in procs:
        try:
            family = [proc, *proc.children(recursive=True)]
            sizes.append(max(p.memory_info().rss for p in family))
        except psutil.NoSuchProcess:
            sizes.append(0)
    return sizes


def _cpu_seconds(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each group of processes and their children."""
    used: dict[str, float] = {}
    for name, roots in groups.items():
        total = 0.0
        for root in roots:
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for proc in family:
                try:
                    times = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
        used[name] = total
    return used


def _wait_ready(celery: Any, count: int, timeout: float = 120) -> None:
    """Until `count` workers answer a ping (imports done, pool process started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(celery.control.ping(timeout=1.0) or []) >= count:
            return
    raise SystemExit(f"the {count} workers did not start within {timeout:.0f} s")


def _start_profiles(folder: Path, procs: list[psutil.Process]) -> list[subprocess.Popen[bytes]]:
    """py-spy on each worker's pool process; collapsed stacks (one file per worker)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    folder.mkdir(parents=True, exist_ok=True)
    spies = []
    for n, proc in enumerate(procs):
        target = max(proc.children(recursive=True) or [proc], key=lambda p: p.pid)
        spies.append(
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(target.pid),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(folder / f"worker-{n}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return spies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--items", type=int, default=8, help="items in the letter (each reader's receipts)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--durable", action="store_true", help="PostgreSQL with fsync on, as in production"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record each sending process with py-spy (pip install py-spy) into this folder",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-send-"))
    pg, redis = servers.start_postgres(durable=args.durable), servers.start_redis()
    sink = CSink(tmp)
    workers: list[Any] = []
    try:
        url = servers.create_database(pg, "bench_send")
        db_engine, sessions = bulk.migrated(url)
        topic = "bench"
        t0 = time.perf_counter()
        bulk.populate_many(sessions, args.recipients, topic=topic)
        edition_id = bulk.make_edition(sessions, topic=topic, items=args.items)
        print(f"{args.recipients:,} subscribers created in {time.perf_counter() - t0:.1f} s")
        settings = bulk.make_settings(
            tmp, url, broker_url=redis.url, smtp_port=sink.port, batch_size=args.batch_size
        )

        sample = sample_message(sessions, edition_id, settings)
        raw_count = min(args.recipients, 20_000)
        raw = raw_limit(sink.port, args.workers, raw_count, sample)
        raw_seen = sink.counts()
        print(
            f"raw limit: {raw:,.0f} messages/s over {args.workers} smtplib connections "
            f"({raw_seen['messages']:,} messages of {len(sample[2]):,} bytes)",
            flush=True,
        )
        sink.reset()

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
        celery = create_celery(settings)
        _wait_ready(celery, args.workers)
        procs = [psutil.Process(w.pid) for w in workers]
        ready_rss = _rss(procs)
        spies = _start_profiles(args.profile, procs) if args.profile else []

        groups = {
            "workers": procs,
            "postgresql": [psutil.Process(pg.proc.pid)],
            "redis": [psutil.Process(redis.proc.pid)],
            "sink": [psutil.Process(sink.proc.pid)],
        }
        cpu_before, machine_before = _cpu_seconds(groups), psutil.cpu_times()
        start_mono = time.monotonic()
        start = time.perf_counter()
        with sessions() as session, session.begin():
            result = controls.send_now(session, edition_id, settings=settings)
        for _ in range(max(result.batches, args.workers * 2)):
            celery.send_task("delivery.send_batch", args=[edition_id])
        if result.audience_pending:
            celery.send_task("delivery.build_audience", args=[edition_id])
        snapshot_at = time.perf_counter() - start
        built_at: float | None = None
        peak = [0] * args.workers
        at_10k: list[int] | None = None
        while True:
            time.sleep(0.2)
            peak = [max(a, b) for a, b in zip(peak, _rss(procs), strict=True)]
            if at_10k is None and sink.counts()["messages"] >= 10_000:
                at_10k = list(peak)
            with sessions() as session:
                status, built = session.execute(
                    select(Edition.status, Edition.audience_built_at).where(
                        Edition.id == edition_id
                    )
                ).one()
            if built_at is None and built is not None:
                built_at = time.perf_counter() - start
            if status != "sending":
                break
        elapsed = time.perf_counter() - start
        end_mono = time.monotonic()
        cpu_after, machine_after = _cpu_seconds(groups), psutil.cpu_times()
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        received = sink.counts()
        counts = bulk.counts(sessions, edition_id)
        with sessions() as session:
            repeated = session.scalar(
                select(func.count()).where(Delivery.edition_id == edition_id, Delivery.attempts > 1)
            )
        rate = counts.get("sent", 0) / elapsed
        first = (sink.first - start_mono) if sink.first is not None else float("nan")
        print(f"edition {status}: {counts}")
        print(
            f"sink received {received['messages']:,} messages over "
            f"{received['connections']:,} connections "
            f"({received['bytes'] / max(1, received['messages']):,.0f} bytes each)"
            + ("" if received["messages"] == counts.get("sent") else "  ** MISMATCH **")
            + (f"; {repeated} rows sent more than once" if repeated else "")
        )
        print(
            f"start (first rows of the snapshot) + enqueue: {snapshot_at:.2f} s; "
            f"snapshot complete after {built_at or float('nan'):.2f} s"
        )
        print(f"time to first message: {first:.2f} s")
        print(f"end to end: {rate:,.0f} messages/s ({elapsed:.1f} s), {rate / raw:.0%} of raw")
        if sink.first is not None:
            steady = counts.get("sent", 0) / (end_mono - sink.first)
            print(
                f"sending alone (first message to edition sent): {steady:,.0f} messages/s, "
                f"{steady / raw:.0%} of raw"
            )
        sent = max(1, counts.get("sent", 0))
        busy = (sum(machine_after) - machine_after.idle) - (
            sum(machine_before) - machine_before.idle
        )
        cpus = psutil.cpu_count() or 1
        print(
            "CPU per message (ms): "
            + ", ".join(
                f"{name} {1000 * (cpu_after[name] - cpu_before[name]) / sent:.3f}"
                for name in groups
            )
            + f"; whole machine {1000 * busy / sent:.3f}"
            f" ({busy / elapsed / cpus:.0%} of {cpus} CPUs busy)"
        )
        print("RSS per worker when ready: " + ", ".join(f"{p / MB:.0f} MB" for p in ready_rss))
        print("peak RSS per worker: " + ", ".join(f"{p / MB:.0f} MB" for p in peak))
        if at_10k:
            print("peak RSS at 10,000 messages: " + ", ".join(f"{p / MB:.0f} MB" for p in at_10k))
        db_engine.dispose()
    finally:
        for worker in workers:
            processes.stop(worker)
        sink.stop()
        redis.stop()
        pg.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
