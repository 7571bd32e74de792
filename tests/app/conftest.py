"""Shared fixtures of the web tests: the app with a real dev server and worker behind it, and its test client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
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
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


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
