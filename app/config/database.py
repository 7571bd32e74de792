"""The database's limits: how long one statement may run and how long it may wait for a lock (PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.config.parsing import Getter, parse_duration


@dataclass(frozen=True)
class DatabaseSettings:
    """PostgreSQL session limits (0 = none); SQLite has its own busy timeout instead."""

    statement_timeout: timedelta = timedelta(seconds=30)
    lock_timeout: timedelta = timedelta(seconds=10)


def database_settings(get: Getter) -> DatabaseSettings:
    """The database limits from the environment."""
    return DatabaseSettings(
        statement_timeout=get("DATABASE_STATEMENT_TIMEOUT", parse_duration, timedelta(seconds=30)),
        lock_timeout=get("DATABASE_LOCK_TIMEOUT", parse_duration, timedelta(seconds=10)),
    )
