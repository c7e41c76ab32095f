"""Running Alembic from code: `dispatch db upgrade`, the tests and `alembic check`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate in one transaction. On SQLite, foreign keys are off meanwhile (as Alembic's
    batch mode needs): a table copied to be altered is dropped and renamed, and with them on,
    dropping it would first delete, through ON DELETE CASCADE, every row that refers to it.
    The references are checked before the transaction commits."""
    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        # Every transaction of dispatch's SQLite engine opens with BEGIN IMMEDIATE, and inside
        # one SQLite ignores this pragma: it goes to the driver's connection beforehand.
        raw = connection.connection.dbapi_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left broken references: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def check(engine: Engine) -> None:
    """Raise if the models and the migrations disagree (alembic's autogenerate diff)."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.check(config)


def revisions(engine: Engine) -> tuple[set[str], set[str]]:
    """(the database's current revisions, the migrations' heads): equal when up to date."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, set(script.get_heads())
