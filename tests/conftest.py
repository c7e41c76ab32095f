"""Shared fixtures: hermetic settings, real PostgreSQL and Redis, a migrated database per backend.

Database tests take `db_session` and run once on SQLite and once on PostgreSQL; each test runs
inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import Result

# Hermetic: neither the developer's DISPATCH_* variables nor the repository's settings.toml.
# DISPATCH_SCREENSHOTS is no setting: it says where browser tests leave their screenshots.
for _name in list(os.environ):
    if _name.startswith("DISPATCH_") and _name != "DISPATCH_SCREENSHOTS":
        del os.environ[_name]
FIXTURES = Path(__file__).parent / "fixtures"
os.environ["DISPATCH_SETTINGS_FILE"] = str(FIXTURES / "settings-test.toml")
# Anything that reaches for the process-wide settings writes into a throwaway folder.
os.environ["DISPATCH_APP__DATA_DIR"] = tempfile.mkdtemp(prefix="dispatch-test-var-")

from dispatch import migrate  # noqa: E402
from dispatch.config import AppSettings, Settings, build_settings  # noqa: E402
from dispatch.db import make_engine, make_sessionmaker  # noqa: E402
from dispatch.models import Base  # noqa: E402
from tests import servers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (processes, browsers) first, in their files' order: spread over the
    workers from the start, rather than one of them running alone at the end of the suite."""
    items.sort(
        key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("browser"))
    )


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes() -> Iterator[None]:
    """argon2id at its smallest cost: the real cost is the point in production, not in tests.

    tests/staff/test_passwords.py checks the production parameters themselves."""
    from argon2 import PasswordHasher

    from dispatch.staff import passwords

    real = passwords._hasher, passwords._DUMMY
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._DUMMY = passwords._hasher.hash("not a password anyone has")
    yield
    passwords._hasher, passwords._DUMMY = real


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.Server]:
    try:
        server = servers.start_postgres()
    except servers.ServerUnavailableError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[servers.Server]:
    try:
        server = servers.start_redis()
    except servers.ServerUnavailableError as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: servers.Server) -> str:
    """A fresh, migrated PostgreSQL database for tests that commit (processes, races)."""
    url = servers.create_database(postgres_server, "dispatch_committed")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = servers.create_database(server, "dispatch_test")
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    connection = db_engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def committed_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database that code under test commits to, as a real process would.

    SQLite: a fresh file per test. PostgreSQL: a shared database emptied after each test.
    """
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'committed.sqlite3'}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    engine = make_engine(request.getfixturevalue("postgres_url"))
    # Emptied before too: a test that used `postgres_url` directly may have left rows behind.
    _empty(engine)
    yield engine
    _empty(engine)
    engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture
def sessions(committed_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(committed_engine)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-mode settings whose files live in the test's own folder."""
    return build_settings(app=AppSettings(data_dir=tmp_path / "var"))


@dataclass
class Cli:
    """Runs `dispatch …` in this process against the test's own embedded-mode database."""

    engine: Engine
    data_dir: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from typer.testing import CliRunner

        from dispatch.cli import app

        return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)

    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)


def _clear_process_caches() -> None:
    from dispatch import config, db

    config.get_settings.cache_clear()
    db.default_engine.cache_clear()
    db._default_sessionmaker.cache_clear()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DISPATCH_DATABASE__URL", url)
    monkeypatch.setenv("DISPATCH_APP__DATA_DIR", str(tmp_path / "var"))
    _clear_process_caches()
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield Cli(engine=engine, data_dir=tmp_path / "var")
    engine.dispose()
    from dispatch import db

    db.default_engine().dispose()
    _clear_process_caches()
