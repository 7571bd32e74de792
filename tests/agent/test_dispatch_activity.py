"""The dispatch activity inside a real Temporal worker, against a real agent: heartbeats, cancel, crash, typed ends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment

from activities.agent import RECORD_EVERY, AgentActivities
from activities.agent_types import AgentCommand, AgentOutcome
from app.agent_server.server import AgentServer
from app.store.db import make_engine, make_session_factory
from app.store.models import JobLog
from app.worker.main import ACTIVITY_THREADS, build_worker
from tests.agent.conftest import TOKEN, AgentProcess, AgentWorld, pid_gone, world_settings
from tests.agent.dispatch_workflow import DispatchInput, DispatchWorkflow
from tests.conftest import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


@asynccontextmanager
async def dispatching(
    client: Client, world: AgentWorld, db_url: str, token: str = TOKEN, record_every: float = RECORD_EVERY
) -> AsyncIterator[tuple[str, sessionmaker[Session]]]:
    """A worker running DispatchWorkflow and the real agent activities on a fresh task queue."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    activities = AgentActivities(world.settings.agents, token, factory, record_every)
    task_queue = f"agent-{uuid.uuid4()}"
    with ThreadPoolExecutor(ACTIVITY_THREADS) as executor:
        worker = build_worker(
            client,
            task_queue,
            [DispatchWorkflow],
            [activities.execute_agent_job, activities.get_credentials],
            executor,
            timedelta(seconds=1),
        )
        try:
            async with worker:
                yield task_queue, factory
        finally:
            engine.dispose()  # the worker's connections (a test reading afterwards opens its own)


def command(world: AgentWorld, job_id: str, name: str, prompt: str = "do the work") -> AgentCommand:
    return AgentCommand(job_id, 1, world.address, name, "DEMO-1", "CODE", ["code-implementer"], prompt, "{}")


async def start(
    client: Client, task_queue: str, params: DispatchInput
) -> WorkflowHandle[DispatchWorkflow, AgentOutcome]:
    return await client.start_workflow(
        DispatchWorkflow.run, params, id=f"dispatch-{uuid.uuid4()}", task_queue=task_queue
    )


async def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the condition is files other processes write
            await asyncio.sleep(0.05)


def stored(factory: sessionmaker[Session], job_id: str) -> list[JobLog]:
    with factory() as session:
        return list(session.scalars(select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.seq)))


@pytest.fixture
def world(tmp_path: Path) -> AgentWorld:
    return world_settings(tmp_path, free_port())


@pytest.fixture
def running_agent(world: AgentWorld) -> AgentWorld:
    server = AgentServer(world.settings)
    server.start()
    yield world
    world.release()
    server.stop(grace=1)


async def test_heartbeats_carry_the_cursor_and_every_line_is_stored(
    temporal_env: WorkflowEnvironment, running_agent: AgentWorld, sqlite_url: str
) -> None:
    client = temporal_env.client
    async with dispatching(client, running_agent, sqlite_url) as (task_queue, factory):
        handle = await start(client, task_queue, DispatchInput(command(running_agent, "hb-1", "CODE")))
        await until(lambda: running_agent.count("starts") == 1, what="the work to start")
        cursor: dict[str, int] = {}
        async with asyncio.timeout(20):
            while not cursor.get("seq"):
                pending = (await handle.describe()).raw_description.pending_activities
                if pending and pending[0].heartbeat_details.payloads:
                    [cursor] = DataConverter.default.payload_converter.from_payloads(
                        pending[0].heartbeat_details.payloads
                    )
                await asyncio.sleep(0.2)
        running_agent.release()
        outcome = await handle.result()
    assert outcome.success and outcome.summary == "finished"
    lines = stored(factory, "hb-1")
    assert [row.seq for row in lines] == sorted({row.seq for row in lines})
    messages = [row.message for row in lines]
    assert "started run 1" in messages and "finished" in messages
    assert {row.level for row in lines} >= {"INFO", "PROGRESS"}
    assert cursor["seq"] <= max(row.seq for row in lines)
    assert running_agent.count("starts") == 1 and running_agent.count("done") == 1


async def test_cancelling_the_workflow_kills_the_agent_job(
    temporal_env: WorkflowEnvironment, running_agent: AgentWorld, sqlite_url: str
) -> None:
    client = temporal_env.client
    async with dispatching(client, running_agent, sqlite_url) as (task_queue, _):
        handle = await start(client, task_queue, DispatchInput(command(running_agent, "cancel-1", "CODE")))
        await until(lambda: running_agent.count("pids") == 1, what="the work to start")
        [pid] = running_agent.pids()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    assert isinstance(failed.value.cause, CancelledError)
    assert pid_gone(pid), "the agent job's process outlived the cancelled workflow"
    with running_agent.client() as agent:
        assert agent.ping("p").running_jobs == []
        assert agent.cancel("cancel-1", "check").state == 6  # JOB_STATE_CANCELLED
    assert running_agent.count("done") == 0


async def test_killing_and_restarting_the_agent_runs_the_work_once(
    temporal_env: WorkflowEnvironment, world: AgentWorld, sqlite_url: str, tmp_path: Path
) -> None:
    client = temporal_env.client
    agent = AgentProcess(world, tmp_path)
    agent.start()
    try:
        async with dispatching(client, world, sqlite_url) as (task_queue, factory):
            params = DispatchInput(command(world, "crash-1", "CODE"), attempts=10, retry_seconds=0.5)
            handle = await start(client, task_queue, params)
            await until(lambda: world.count("starts") == 1, what="the first run to start")
            [first_pid] = world.pids()
            agent.kill()
            assert not pid_gone(first_pid), "the test needs a leftover command, as after a real SIGKILL"
            agent.start()
            await until(lambda: world.count("starts") == 2, what="the interrupted job to run again")
            assert pid_gone(first_pid), "the restarted agent left the interrupted run's process alive"
            world.release()
            outcome = await handle.result()
    finally:
        agent.stop()
    assert outcome.success
    assert world.count("done") == 1, "the work completed more than once"
    seqs = [row.seq for row in stored(factory, "crash-1")]
    assert len(seqs) == len(set(seqs))
    assert any(row.message.startswith("running CODE again") for row in stored(factory, "crash-1"))


async def test_failed_tests_come_back_as_an_outcome(
    temporal_env: WorkflowEnvironment, running_agent: AgentWorld, sqlite_url: str
) -> None:
    client = temporal_env.client
    async with dispatching(client, running_agent, sqlite_url) as (task_queue, _):
        handle = await start(client, task_queue, DispatchInput(command(running_agent, "tests-1", "TEST")))
        outcome = await handle.result()
    assert not outcome.success
    assert outcome.error_kind == "TESTS_FAILED"
    assert "FAILED (failures=1)" in outcome.outputs["test_report"]
    assert outcome.last_output.endswith("FAILED (failures=1)")


async def test_a_crashed_job_is_run_again_on_retry(
    temporal_env: WorkflowEnvironment, running_agent: AgentWorld, sqlite_url: str
) -> None:
    client = temporal_env.client
    running_agent.release()  # the second run finishes at once
    async with dispatching(client, running_agent, sqlite_url) as (task_queue, _):
        handle = await start(client, task_queue, DispatchInput(command(running_agent, "fix-1", "FIX")))
        outcome = await handle.result()
    assert outcome.success
    assert (running_agent.count("starts"), running_agent.count("done")) == (2, 1)


async def test_a_job_that_keeps_crashing_fails_typed_and_retryable(
    temporal_env: WorkflowEnvironment, running_agent: AgentWorld, sqlite_url: str
) -> None:
    client = temporal_env.client
    async with dispatching(client, running_agent, sqlite_url) as (task_queue, factory):
        handle = await start(client, task_queue, DispatchInput(command(running_agent, "plan-1", "PLAN"), attempts=2))
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "AgentCrashed" and not cause.cause.non_retryable
    assert cause.cause.details[0] == "AGENT_CRASHED"
    assert "PLAN exited with code 3: the tool broke" in cause.cause.message
    assert [row.message for row in stored(factory, "plan-1")].count("the tool broke") == 2  # ran once per attempt


@pytest.mark.parametrize(
    ("name", "token", "error_type"),
    [
        ("NOT-A-COMMAND", TOKEN, "ValidationError"),  # refused before any call
        ("createPR", TOKEN, "ValidationError"),  # the agent's profile has no such command: BAD_REQUEST
        ("CODE", "a-wrong-token", "AuthenticationError"),
    ],
)
async def test_permanent_failures_are_not_retried(
    temporal_env: WorkflowEnvironment,
    running_agent: AgentWorld,
    sqlite_url: str,
    name: str,
    token: str,
    error_type: str,
) -> None:
    client = temporal_env.client
    async with dispatching(client, running_agent, sqlite_url, token=token) as (task_queue, _):
        handle = await start(client, task_queue, DispatchInput(command(running_agent, f"bad-{name}", name)))
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == error_type and cause.cause.non_retryable
    assert cause.retry_state is not None and cause.retry_state.name == "NON_RETRYABLE_FAILURE"
    assert running_agent.count("starts") == 0
