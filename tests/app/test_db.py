"""The engine's limits (issue 13, low): PostgreSQL statement and lock timeouts, and a worker pool as large as its
activity threads; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app.config import DatabaseSettings
from app.store.db import engine_for, make_engine
from app.worker.capacity import ACTIVITY_THREADS
from app.worker.registry import activity_functions
from tests.conftest import make_settings


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def test_sessions_get_the_configured_limits(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, DATABASE_URL=database_url, DATABASE_STATEMENT_TIMEOUT="45s", DATABASE_LOCK_TIMEOUT="5s"
    )
    assert settings.database == DatabaseSettings(timedelta(seconds=45), timedelta(seconds=5))
    engine = engine_for(settings)
    with engine.connect() as connection:
        if is_postgres(engine):
            assert connection.scalar(text("SHOW statement_timeout")) == "45s"
            assert connection.scalar(text("SHOW lock_timeout")) == "5s"
        else:  # SQLite has no such settings: writers wait on its busy timeout instead
            assert connection.scalar(text("PRAGMA busy_timeout")) == 30000
    engine.dispose()


def test_a_long_lock_wait_or_statement_fails_instead_of_holding_its_thread(database_url: str) -> None:
    engine = make_engine(database_url, DatabaseSettings(timedelta(milliseconds=500), timedelta(milliseconds=200)))
    if not is_postgres(engine):
        engine.dispose()
        pytest.skip("statement and lock timeouts are PostgreSQL's (SQLite waits on its busy timeout)")
    with engine.connect() as holder, engine.connect() as waiter:
        holder.execute(text("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE"))
        with pytest.raises(OperationalError, match="lock timeout"):
            waiter.execute(text("SELECT count(*) FROM agents"))
        waiter.rollback()
        holder.rollback()
        with pytest.raises(OperationalError, match="statement timeout"):
            waiter.execute(text("SELECT pg_sleep(5)"))
    engine.dispose()


def test_every_activity_thread_of_the_worker_gets_a_connection_at_once(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DATABASE_URL=database_url)
    factory = activity_functions(settings, None)[0].__self__.session_factory  # type: ignore[attr-defined]
    engine: Engine = factory.kw["bind"]
    together = threading.Barrier(ACTIVITY_THREADS, timeout=20)

    def activity(_: int) -> None:
        with factory() as session:  # each holds its connection until all of them hold one
            session.execute(text("SELECT 1"))
            together.wait()

    with ThreadPoolExecutor(ACTIVITY_THREADS) as threads:
        list(threads.map(activity, range(ACTIVITY_THREADS)))
    assert engine.pool.size() >= ACTIVITY_THREADS  # type: ignore[attr-defined]
    engine.dispose()
