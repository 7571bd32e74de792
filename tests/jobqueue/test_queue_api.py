"""The queue's HTTP API on a real dev server and worker (seed properties 16 and 17, and job cancellation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from app.web.factory import create_app
from tests.conftest import make_settings
from tests.jobqueue.test_system import project_keys
from tests.jobqueue.timed_agent import TimedAgent
from tests.workflows.conftest import running_worker, until
from tests.workflows.fakes import FakeJira
from workflows.ids import workflow_id_for
from workflows.messages import OrchestrationInput, RunStatus
from workflows.orchestration import OrchestrationWorkflow

TOKEN = "queue-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    http: FlaskClient
    client: Client
    task_queue: str
    agent: TimedAgent
    project: str

    async def get(self, url: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.http.get, url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.http.post, url, **kwargs)

    async def start(self, key: str) -> Any:
        return await self.client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput(key, self.project, auto_proceed=True, index_search_attributes=False),
            id=workflow_id_for(key),
            task_queue=self.task_queue,
        )

    async def queue(self) -> dict[str, Any]:
        response = await self.get(f"/api/projects/{self.project.lower()}/queue", headers=AUTH)
        assert response.status_code == 200, response.json
        return dict(response.json)


@pytest.fixture
async def api(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    address = temporal_env.client.service_client.config.target_host
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        TEMPORAL_ADDRESS=address,
        TEMPORAL_TASK_QUEUE=task_queue,
        ORCHESTRATOR_API_TOKEN=TOKEN,
    )
    app = create_app(settings)
    agent = TimedAgent()
    async with running_worker(temporal_env.client, task_queue, sqlite_url, FakeJira(), agent):
        yield Api(app.test_client(), temporal_env.client, task_queue, agent, project_keys(1)[0])
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


async def eventually_queue(api: Api, check: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        view = await api.queue()
        if check(view):
            return view
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {view}"
        await asyncio.sleep(0.1)


async def test_queue_status_workflow_status_and_cancel(api: Api) -> None:
    api.agent.block.add("EXPLORE")
    first = await api.start(f"{api.project}-1")
    await until(api.agent.started.is_set, what="the first EXPLORE")
    second = await api.start(f"{api.project}-2")
    view = await eventually_queue(api, lambda v: len(v["queued"]) == 1, "the second job to wait")
    assert view["paused"] is False and view["project_key"] == api.project
    (running,) = view["executing"]
    (waiting,) = view["queued"]
    assert running["issue_key"] == f"{api.project}-1" and running["status"] == "in_progress"
    assert waiting["issue_key"] == f"{api.project}-2" and (waiting["position"], waiting["queue_kind"]) == (1, "backlog")

    status = await api.get(f"/api/jobs/{running['job_id']}/workflow-status", headers=AUTH)
    assert status.status_code == 200
    workflow = status.json["workflow"]
    assert (workflow["workflow_id"], workflow["status"]) == (f"job-{running['job_id']}", "RUNNING")
    assert workflow["run_id"] == (await api.client.get_workflow_handle(workflow["workflow_id"]).describe()).run_id
    waiting_status = await api.get(f"/api/jobs/{waiting['job_id']}/workflow-status", headers=AUTH)
    assert waiting_status.json["workflow"] is None and waiting_status.json["job"]["status"] == "queued"

    removed = await api.post(f"/api/jobs/{waiting['job_id']}/cancel", headers=AUTH)
    assert removed.status_code == 202 and removed.json["outcome"] == "removed"
    state = await _until_failed(second)
    assert state.failure.message == "removed from the queue by api"
    assert (await api.queue())["queued"] == []

    cancelled = await api.post(f"/api/jobs/{running['job_id']}/cancel", headers=AUTH)
    assert cancelled.status_code == 202 and cancelled.json["outcome"] == "cancelling"
    state = await _until_failed(first)
    assert state.failure.phase == "EXPLORE" and "cancelled" in state.failure.message
    again = await api.post(f"/api/jobs/{running['job_id']}/cancel", headers=AUTH)
    assert again.status_code == 409 and "nothing to cancel" in again.json["error"]
    for handle in (first, second):
        await handle.terminate("test over")


async def _until_failed(handle: Any) -> Any:
    deadline = time.monotonic() + 30
    while True:
        state = await handle.query(OrchestrationWorkflow.get_status)
        if state.status == RunStatus.FAILED:
            return state
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.1)


async def test_bad_input_and_missing_token_are_refused(api: Api) -> None:
    assert (await api.get("/api/projects/DEMO/queue")).status_code == 401
    assert (await api.get("/api/projects/not a key!/queue", headers=AUTH)).status_code == 400
    missing = await api.get("/api/jobs/nope/workflow-status", headers=AUTH)
    assert missing.status_code == 404 and "no job" in missing.json["error"]
    assert (await api.post("/api/jobs/nope/cancel", headers=AUTH)).status_code == 404
    assert (await api.post("/api/jobs/bad%20id/cancel", headers=AUTH)).status_code == 400
    empty = await api.get("/api/projects/EMPTY/queue", headers=AUTH)
    assert empty.json == {"project_key": "EMPTY", "paused": False, "executing": [], "queued": []}
