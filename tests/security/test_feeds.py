"""Hostile feeds: a document type declaration is refused by a real parser wherever it hides,
and a poll that still kills its worker is recorded on the source, backs off, and after three
crashes pauses the source. Polls run in a real `celery worker` process, as in production."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch import migrate
from dispatch.config import AppSettings, build_settings
from dispatch.content import ingest, sources
from dispatch.content.entries import ParseError
from dispatch.content.models import Source
from dispatch.content.rss import parse_feed
from dispatch.db import make_engine, make_sessionmaker, session_scope, utcnow
from tests import factories, processes
from tests.conftest import Cli, _clear_process_caches
from tests.content.site import Site, running_site
from workers.app import create_celery

FEED_URL = "https://blog.example.org/feed/"
SECRET = "la-clef-du-serveur-ne-doit-pas-fuir"
# Where the prefix scan thought the prolog ended: any "<letter", here inside a comment.
DECOY = "<!-- <a> marks the spot -->"


def _feed(doctype: str, *, title: str = "Titre &e;", decoy: str = DECOY) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
{decoy}
{doctype}
<rss version="2.0"><channel><title>Blog</title><link>https://blog.example.org/</link>
<item><title>{title}</title><link>https://blog.example.org/1</link>
<description>Contenu</description></item></channel></rss>
""".encode()


def _nested(depth: int) -> str:
    chain = "".join(f'<!ENTITY e{i} "&e{i - 1};">' for i in range(1, depth))
    return f'<!DOCTYPE rss [<!ENTITY e0 "x">{chain}<!ENTITY e "&e{depth - 1};">]>'


def _laughs() -> str:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return f'<!DOCTYPE rss [<!ENTITY l0 "lol">{levels}<!ENTITY e "&l9;">]>'


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def hostile_feeds(secret_file: Path) -> dict[str, bytes]:
    return {
        "internal entities": _feed(_laughs()),
        "external entity": _feed(f'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://{secret_file}">]>'),
        "parameter entity": _feed(
            f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{secret_file}"> %p;]>'
        ),
        "external DTD": _feed(f'<!DOCTYPE rss SYSTEM "file://{secret_file}">', title="Titre"),
        "a processing instruction first": _feed(
            f'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://{secret_file}">]>',
            decoy='<?xml-stylesheet href="<a>"?>',
        ),
        # Not well-formed before the DTD: expat stops early, a lenient reader would go on.
        "broken before the DTD": _feed(
            f'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://{secret_file}">]>', decoy="<a><b></a>"
        ),
        "deep nesting": _feed(_nested(60_000)),
    }


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "name",
    [
        "internal entities",
        "external entity",
        "parameter entity",
        "external DTD",
        "a processing instruction first",
        "broken before the DTD",
    ],
)
def test_a_dtd_after_a_comment_is_refused(secret_file: Path, name: str) -> None:
    with pytest.raises(ParseError, match="refused: the document has a document type") as caught:
        parse_feed(hostile_feeds(secret_file)[name], base_url=FEED_URL)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "cp037"])
def test_a_dtd_in_another_encoding_is_refused(secret_file: Path, encoding: str) -> None:
    text = _feed(f'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://{secret_file}">]>').decode()
    data = text.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding)
    with pytest.raises(ParseError, match="refused"):
        parse_feed(data, base_url=FEED_URL)


def test_a_dtd_under_a_misleading_http_charset_never_reaches_the_parser(
    secret_file: Path,
) -> None:
    # The document says utf-16, the server something else: feedparser decodes it as the
    # guard did, so either the DTD is seen and refused, or the text is unreadable to both.
    text = _feed(f'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://{secret_file}">]>').decode()
    data = codecs.BOM_UTF16_LE + text.replace("utf-8", "utf-16").encode("utf-16-le")
    for content_type in ("application/xml; charset=iso-8859-1", "text/xml", None):
        with pytest.raises(ParseError) as caught:
            parse_feed(data, base_url=FEED_URL, content_type=content_type)
        assert SECRET not in str(caught.value)
    with pytest.raises(ParseError, match="refused"):
        parse_feed(data, base_url=FEED_URL, content_type="application/rss+xml")


def test_an_ordinary_feed_with_comments_and_cdata_still_reads() -> None:
    # "<!DOCTYPE" as text inside CDATA is content, not a declaration: the parser knows.
    feed = _feed("", title="Le <![CDATA[<!DOCTYPE>]]> expliqué")
    result = parse_feed(feed, base_url=FEED_URL)
    assert [entry.url for entry in result.entries] == ["https://blog.example.org/1"]


# --- in a real worker process -----------------------------------------------------------------


class Worker:
    """A real worker polling sources of a real database, through the broker."""

    def __init__(self, tmp_path: Path, site: Site) -> None:
        self.tmp_path = tmp_path
        self.site = site
        self.url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
        self.engine: Engine = make_engine(self.url)
        migrate.upgrade(self.engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.settings = build_settings(app=AppSettings(data_dir=tmp_path / "var"))
        self.celery = create_celery(self.settings)
        self.env = processes.dispatch_env(
            data_dir=tmp_path / "var",
            database_url=self.url,
            # The local site is on 127.0.0.1; a slow answer must outlast the test's kill.
            DISPATCH_CONTENT__ALLOW_PRIVATE_HOSTS="true",
            DISPATCH_CONTENT__FETCH_TIMEOUT="120",
        )
        self.proc = processes.start_worker(self.env, self.log)
        self.pool = self._pool()

    @property
    def log(self) -> Path:
        return self.tmp_path / "worker.log"

    def _pool(self) -> set[int]:
        processes.wait_until(
            lambda: bool(processes.descendants(self.proc.pid)), timeout=60, what="a pool process"
        )
        return {p.pid for p in processes.descendants(self.proc.pid)}

    def add(self, path: str, body: bytes, *, delay: float = 0.0) -> int:
        self.site.serve(path, body, delay=delay)
        with session_scope(self.sessions) as session:
            factories.topic(session, "blog")
            source = sources.add_source(
                session, url=self.site.url(path), kind="rss", topic_slugs=["blog"]
            )
            return source.id

    def poll(self, source_id: int) -> None:
        """What the webhook and the beat tick do: claim the source, ring for its poll."""
        with session_scope(self.sessions) as session:
            assert sources.claim_source(session, source_id)
        self.celery.send_task("content.poll_source", args=[source_id])

    def source(self, source_id: int) -> Source:
        with session_scope(self.sessions) as session:
            row = session.get(Source, source_id)
            assert row is not None
            session.expunge(row)
            return row

    def restart(self) -> None:
        processes.stop(self.proc)
        self.proc = processes.start_worker(self.env, self.log)
        self.pool = self._pool()

    def stop(self) -> None:
        processes.stop(self.proc)
        self.engine.dispose()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    with running_site() as site:
        running = Worker(tmp_path, site)
        try:
            yield running
        except (TimeoutError, AssertionError) as error:
            raise AssertionError(f"{error}\n--- worker.log\n{running.log.read_text()}") from error
        finally:
            running.stop()


@pytest.mark.slow
def test_hostile_feeds_are_refused_by_a_real_poll_and_the_worker_lives(
    worker: Worker, secret_file: Path
) -> None:
    feeds = hostile_feeds(secret_file)
    ids = {
        name: worker.add(f"/{i}.xml", feeds[name])
        for i, name in enumerate(["internal entities", "external entity", "deep nesting"])
    }
    for source_id in ids.values():
        worker.poll(source_id)

    def all_polled() -> bool:
        return all(worker.source(i).last_polled_at is not None for i in ids.values())

    processes.wait_until(all_polled, timeout=90, what="the three polls")
    for name, source_id in ids.items():
        source = worker.source(source_id)
        assert source.last_status == "error", name
        assert (source.last_error or "").startswith("refused: the document has a document type")
        assert SECRET not in (source.last_error or "")
        assert source.crashes == 0 and source.poll_started_at is None
    # The same pool process did all three: nothing crashed.
    assert worker.proc.poll() is None
    assert {p.pid for p in processes.descendants(worker.proc.pid)} == worker.pool


@pytest.mark.slow
def test_a_poll_that_kills_its_worker_is_recorded_backs_off_and_pauses_after_three(
    worker: Worker, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_id = worker.add("/slow.xml", _feed("", title="Titre"), delay=600)
    for crash in (1, 2, 3):
        worker.poll(source_id)
        processes.wait_until(
            lambda: worker.source(source_id).poll_started_at is not None,
            timeout=60,
            what="the poll to start",
        )
        processes.kill_hard(worker.proc)
        source = worker.source(source_id)
        assert source.claimed_until is not None
        # The beat tick after the claim expired: the poll never wrote its result.
        after_claim = source.claimed_until + timedelta(seconds=1)
        with session_scope(worker.sessions) as session:
            assert sources.claim_due_sources(session, now=after_claim) == []
        source = worker.source(source_id)
        assert source.crashes == crash and source.consecutive_failures == crash
        assert source.poll_started_at is None and source.claimed_until is None
        assert source.next_poll_at is not None
        assert source.next_poll_at - after_claim >= timedelta(minutes=15 * 2**crash)
        if crash < 3:
            assert source.enabled and source.last_error == ingest.STOPPED_WORKER
            worker.restart()
    assert not source.enabled and source.last_status == "paused"
    assert "paused after 3 polls in a row stopped the worker" in (source.last_error or "")
    assert f"dispatch sources resume {source_id}" in (source.last_error or "")
    with session_scope(worker.sessions) as session:
        far = utcnow() + timedelta(days=30)
        assert sources.claim_due_sources(session, now=far) == []  # paused: never due

    # Staff see it in `dispatch sources list`, and resume it once the feed is fixed.
    monkeypatch.setenv("DISPATCH_DATABASE__URL", worker.url)
    _clear_process_caches()
    listed = cli("sources", "list").stdout
    assert "PAUSED" in listed and "stopped the worker" in listed
    assert f"Source {source_id} resumed" in cli("sources", "resume", str(source_id)).stdout
    source = worker.source(source_id)
    assert source.enabled and source.crashes == 0
    assert source.next_poll_at is not None and source.next_poll_at <= utcnow()
