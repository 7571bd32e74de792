"""Shared fixtures of the web tests: the app with a real dev server and worker behind it, and its test client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from app.web.factory import create_app
from tests.conftest import make_settings
from tests.workflows.conftest import running_worker
from tests.workflows.fakes import FakeAgent, FakeJira

TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[FlaskClient]:
    address = temporal_env.client.service_client.config.target_host
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        TEMPORAL_ADDRESS=address,
        TEMPORAL_TASK_QUEUE=task_queue,
        ORCHESTRATOR_API_TOKEN=TOKEN,
        ORCHESTRATOR_GATES="EXPLORE",
    )
    app = create_app(settings)
    async with running_worker(temporal_env.client, task_queue, sqlite_url, FakeJira(), FakeAgent()):
        yield app.test_client()
        # End what the test left running first: a worker stopping under in-flight activities can wait on them.
        await end_task_queue_runs(temporal_env.client, task_queue)
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


async def end_task_queue_runs(client: Client, task_queue: str) -> None:
    """Terminate every run still open on the test's task queue (their children with them)."""
    async for run in client.list_workflows(f'TaskQueue = "{task_queue}" AND ExecutionStatus = "Running"'):
        with contextlib.suppress(RPCError):  # ended meanwhile
            await client.get_workflow_handle(run.id, run_id=run.run_id).terminate("test over")


async def call(client: FlaskClient, method: str, url: str, **kwargs: Any) -> Any:
    """Flask's test client is sync and the gateway waits on Temporal: keep the test's loop free meanwhile."""
    return await asyncio.to_thread(getattr(client, method), url, **kwargs)


async def wait_for_gate(client: FlaskClient, key: str, headers: dict[str, str] = AUTH) -> dict[str, Any]:
    """Poll the API until the issue's run waits at a gate; its state then."""
    deadline = time.monotonic() + 20
    while True:
        response = await call(client, "get", f"/api/orchestrations/{key}", headers=headers)
        if response.status_code == 200 and response.json["pending_gate"]:
            return dict(response.json)
        assert time.monotonic() < deadline, response.json
        await asyncio.sleep(0.1)
