"""Benchmark: compiling editions and building personalised messages, on one core.

    .venv/bin/python bench/compose.py [--recipients 10000] [--json] [--link-counts]

Reports compile time per edition kind, messages per second from `personalise` to final
bytes (MIME + headers, DKIM off and on; newsletter, and digest with varied topic sets), and
peak traced memory for 1,000 vs 10,000 recipients to show it does not grow with the list.
Targets: compile < 100 ms; >= 2,000 messages/s without DKIM. `--link-counts` compiles as
`mail.link_counts = true` does (every link rewritten to a signed redirect, once per compile).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dispatch.delivery.mime import DkimKey, MessageFactory
from dispatch.editions import compose, links, samples
from dispatch.editions.views import EDITION_KINDS, EditionView, RecipientView

LIST_ID = "lettre.la27eregion.example"
LINK_COUNTS = False  # --link-counts


def compile_edition(edition: EditionView) -> compose.CompiledEdition:
    plan = None
    if LINK_COUNTS:
        plan = links.LinkPlan(edition_id=1, base_url="https://lettre.example", _key="k" * 48)
    return compose.compile_edition(edition, samples.sample_branding(), link_plan=plan)


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    return "not pinned (no sched_setaffinity)"


def recipients(count: int, *, topic_sets: bool = False) -> Iterator[RecipientView]:
    """Readers made on the fly, as a database cursor would yield them."""
    chooser = random.Random(27)
    topics = ("blog", "events", "picks")
    for index in range(count):
        reader = samples.sample_recipient("fr", index=index)
        if topic_sets:
            chosen = frozenset(t for t in topics if chooser.random() < 0.6) or {"blog"}
            reader = replace(reader, topics=frozenset(chosen))
        yield reader


def time_compile(kind: str, repeat: int) -> float:
    edition = samples.sample_edition(kind, "fr")
    compile_edition(edition)  # warm imports and template cache
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        compiled = compile_edition(edition)
        if compiled.by_topic:
            compiled.variant(None)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1000


def send_rate(
    kind: str, count: int, *, dkim_key: DkimKey | None, topic_sets: bool = False
) -> tuple[float, int]:
    """Messages per second from personalise to bytes (compile excluded), and bytes per message."""
    branding = samples.sample_branding()
    compiled = compile_edition(samples.sample_edition(kind, "fr"))
    factory = MessageFactory(branding, list_id=LIST_ID, dkim=dkim_key)
    readers = list(recipients(count, topic_sets=topic_sets))
    size = 0
    gc.collect()
    started = time.perf_counter()
    for reader in readers:
        size = len(factory.build(compose.personalise(compiled, reader)).data)
    elapsed = time.perf_counter() - started
    return count / elapsed, size


def peak_memory(count: int) -> float:
    """Peak traced memory (MiB) while building `count` messages, readers streamed."""
    branding = samples.sample_branding()
    gc.collect()
    tracemalloc.start()
    compiled = compile_edition(samples.sample_edition("newsletter", "fr"))
    factory = MessageFactory(branding, list_id=LIST_ID)
    for reader in recipients(count):
        factory.build(compose.personalise(compiled, reader))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def make_dkim_key() -> DkimKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return DkimKey(selector="bench", domain="la27eregion.example", private_key=pem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7, help="compiles per kind (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--link-counts", action="store_true", help="compile with mail.link_counts on"
    )
    args = parser.parse_args()
    global LINK_COUNTS
    LINK_COUNTS = args.link_counts
    pinned = pin_to_one_core()
    results: dict[str, object] = {
        "cpu": pinned,
        "recipients": args.recipients,
        "link_counts": LINK_COUNTS,
    }

    results["compile_ms"] = {
        kind: round(time_compile(kind, args.repeat), 1) for kind in EDITION_KINDS
    }
    rate, size = send_rate("newsletter", args.recipients, dkim_key=None)
    results["newsletter_msgs_per_s"] = round(rate)
    results["newsletter_bytes"] = size
    rate, _ = send_rate("newsletter", args.recipients, dkim_key=make_dkim_key())
    results["newsletter_dkim_msgs_per_s"] = round(rate)
    rate, _ = send_rate("event", args.recipients, dkim_key=None)
    results["event_ics_msgs_per_s"] = round(rate)
    rate, _ = send_rate("digest", args.recipients, dkim_key=None, topic_sets=True)
    results["digest_varied_topics_msgs_per_s"] = round(rate)
    small, large = max(1, args.recipients // 10), args.recipients
    results["peak_mib"] = {
        str(small): round(peak_memory(small), 2),
        str(large): round(peak_memory(large), 2),
    }

    if args.json:
        print(json.dumps(results, indent=2))
        return
    counted = ", link counts on" if LINK_COUNTS else ""
    print(f"dispatch compose benchmark ({pinned}, {args.recipients} recipients{counted})")
    print("compile, median per edition (target < 100 ms):")
    for kind, ms in results["compile_ms"].items():  # type: ignore[attr-defined]
        print(f"  {kind:<17} {ms:7.1f} ms")
    print("personalise + MIME to bytes (target >= 2,000/s without DKIM):")
    print(
        f"  newsletter            {results['newsletter_msgs_per_s']:>7}/s"
        f"  ({results['newsletter_bytes']} bytes each)"
    )
    print(f"  newsletter, DKIM      {results['newsletter_dkim_msgs_per_s']:>7}/s")
    print(f"  event with .ics       {results['event_ics_msgs_per_s']:>7}/s")
    print(
        f"  digest, topic sets    {results['digest_varied_topics_msgs_per_s']:>7}/s"
        "  (variants compiled on first use, included)"
    )
    print("peak traced memory while building (flat = independent of list size):")
    for count, mib in results["peak_mib"].items():  # type: ignore[attr-defined]
        print(f"  {count:>6} recipients  {mib:6.2f} MiB")


if __name__ == "__main__":
    main()
