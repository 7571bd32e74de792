"""Stopping an agent mid-job, on the dev server with real schedules (seed properties 23-27, 20).

The agent is a real gRPC health server on loopback (what the health check talks to) plus the scripted agent
activities (what the job talks to); "stopping" it stops both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from app.store.db import make_engine, make_session_factory
from app.store.models import Agent, AgentJob
from app.temporal.schedules import Plan, apply_plan, ensure_agent_schedules
from tests.conftest import make_settings
from tests.jobqueue.health_server import HealthServer
from tests.jobqueue.test_system import project_keys
from tests.jobqueue.timed_agent import TimedAgent
from tests.workflows.conftest import running_worker, until
from tests.workflows.fakes import FakeJira
from workflows.agent_health import AgentHealthCheckWorkflow
from workflows.ids import workflow_id_for
from workflows.messages import OrchestrationInput, RunStatus
from workflows.orchestration import OrchestrationWorkflow
from workflows.queue_types import HealthCheckInput, agent_schedule_ids


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    """Wait until an async condition holds, failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def paused(client: Client, agent_id: str) -> list[bool]:
    """Whether each of the agent's schedules (queue monitor, health check) is paused."""
    return [
        (await client.get_schedule_handle(sid).describe()).schedule.state.paused for sid in agent_schedule_ids(agent_id)
    ]


async def test_a_stopped_agent_goes_offline_its_job_is_requeued_and_work_resumes_when_it_returns(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> None:
    client = temporal_env.client
    server = HealthServer()
    agent_id = server.address
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        TEMPORAL_TASK_QUEUE=task_queue,
        AGENT_HEALTH_INTERVAL="1s",
        QUEUE_MONITOR_INTERVAL="1s",
    )
    factory = make_session_factory(make_engine(sqlite_url))
    agent, jira = TimedAgent(), FakeJira()
    agent.block.add("EXPLORE")
    key = f"{project_keys(1)[0]}-7"
    revival = Plan(
        f"agent-revival-{task_queue}", AgentHealthCheckWorkflow.run, HealthCheckInput(), timedelta(seconds=1)
    )
    schedule_ids = [*agent_schedule_ids(agent_id), revival.schedule_id]

    def row(model: type, ident: str) -> object:
        with factory() as session:
            return session.get(model, ident)

    def explore() -> AgentJob | None:
        with factory() as session:
            return session.scalars(select(AgentJob).where(AgentJob.phase == "EXPLORE")).first()

    async with running_worker(client, task_queue, sqlite_url, jira, agent, (agent_id,), settings):
        try:
            await ensure_agent_schedules(client, settings, agent_id, online=True)
            await apply_plan(client, revival, task_queue)
            handle = await client.start_workflow(
                OrchestrationWorkflow.run,
                OrchestrationInput(key, key.split("-")[0], auto_proceed=True, index_search_attributes=False),
                id=workflow_id_for(key),
                task_queue=task_queue,
            )
            await until(agent.started.is_set, what="EXPLORE to start")
            server.stop()
            agent.down.add(agent_id)  # the job's stream breaks: the job fails, the agent does not answer its ping
            await until(
                lambda: (j := explore()) is not None and j.status == "queued" and j.recoveries == 1, 30, "requeue"
            )
            await until(
                lambda: any("back at the head of the queue" in t for t in jira.texts()), 30, "the issue comment"
            )
            await until(lambda: getattr(row(Agent, agent_id), "status", "") == "offline", 30, "three failed checks")
            await eventually(lambda: _all(paused(client, agent_id)), "its schedules to be paused")
            assert explore().status == "queued"  # nobody took the job meanwhile

            agent.down.discard(agent_id)
            agent.block.clear()
            server = HealthServer(port=server.port)  # the agent comes back where it was
            result = await asyncio.wait_for(handle.result(), 60)
            assert result.status == RunStatus.COMPLETED
            assert getattr(row(Agent, agent_id), "status", "") == "online"
            assert await paused(client, agent_id) == [False, False]
            job = explore()
            assert job is not None and (job.status, job.recoveries) == ("completed", 1)
            assert job.temporal_workflow_id.endswith("-recovery-1")
        finally:
            for schedule_id in schedule_ids:
                await client.get_schedule_handle(schedule_id).delete()
            server.stop()


async def _all(flags: Awaitable[list[bool]]) -> bool:
    return all(await flags)
