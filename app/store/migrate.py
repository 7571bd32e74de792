"""Apply or revert Alembic migrations from code (used by `orchestrator migrate`, `make run` and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head", connection: Connection | None = None) -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(database_url, connection), revision)


def downgrade(database_url: str, revision: str = "base", connection: Connection | None = None) -> None:
    """Take the schema down to `revision`."""
    command.downgrade(alembic_config(database_url, connection), revision)
