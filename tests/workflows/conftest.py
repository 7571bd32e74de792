"""A real worker (real workflows, real DB activities) with the fake Jira gateway and the scripted agent."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.forge import ForgeActivities
from activities.jira import JiraActivities
from activities.jobs import JobActivities
from activities.notify import NotifyActivities
from activities.records import RecordActivities
from activities.starts import StartActivities, StartPolicy
from app.config import Settings
from app.jira_gateway.models import Comment, StatusMove
from app.jobqueue import agents
from app.store.db import make_engine, make_session_factory
from app.store.models import AgentJob
from app.worker.main import HEARTBEAT_THROTTLE
from app.worker.registry import checked_starter, job_system_activities, job_system_workflows
from tests.workflows.fakes import FakeAgent, FakeForge, FakeJira
from workflows.ids import workflow_id_for
from workflows.job_execution import JobExecutionWorkflow
from workflows.messages import OrchestrationInput
from workflows.orchestration import OrchestrationWorkflow
from workflows.start_check import StartCheckWorkflow


@dataclass
class Harness:
    """Everything a workflow test drives and inspects."""

    client: Client
    env: WorkflowEnvironment
    task_queue: str
    jira: FakeJira
    agent: FakeAgent
    database_url: str
    key: str
    forge: FakeForge = field(default_factory=FakeForge)
    started: list[str] = field(default_factory=list)

    async def start(self, key: str | None = None, **overrides: object) -> WorkflowHandle[OrchestrationWorkflow, object]:
        key = key or self.key
        self.started.append(workflow_id_for(key))
        fields: dict[str, object] = {"issue_key": key, "project_key": key.split("-")[0], "started_by": "acc-reporter"}
        fields.update(overrides)
        fields.setdefault("index_search_attributes", False)
        return await self.client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput(**fields),  # type: ignore[arg-type]
            id=workflow_id_for(key),
            task_queue=self.task_queue,
        )


HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"


async def end_runs(client: Client, workflow_ids: list[str]) -> None:
    """Terminate the test's runs that still run (their children with them). The time-skipping server outlives the
    test: a run left waiting at a gate would have its timers fired when a later test skips time, on a task queue
    nobody polls any more, and the server then stops skipping: the later test hangs."""
    for workflow_id in dict.fromkeys(workflow_ids):
        with contextlib.suppress(RPCError):  # ended already (the usual case) or never started
            await client.get_workflow_handle(workflow_id).terminate("test over")


async def keep_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With RECORD_HISTORIES=1, save the run's history as a replay fixture (tests/fixtures/histories/)."""
    if os.environ.get("RECORD_HISTORIES") == "1":
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())


async def until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    """Wait for a condition (polling), failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def until_state(
    handle: WorkflowHandle[OrchestrationWorkflow, object], check: Callable[[object], bool], what: str
) -> object:
    """Poll the workflow's state query until `check(state)` holds."""
    deadline = time.monotonic() + 20
    while True:
        state = await handle.query(OrchestrationWorkflow.get_status)
        if check(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; state: {state}")
        await asyncio.sleep(0.05)


_KEYS = itertools.count(100)


class NoSearch:
    """The reconciliation sweep's Jira search, unused by these tests."""

    def search_issue_keys(self, jql: str) -> list[str]:
        return []

    def list_comments(self, issue_key: str) -> list[Comment]:
        return []

    def bot_account_id(self) -> str:
        return "acc-bot"

    def status_moves(self, issue_key: str) -> list[StatusMove]:
        return []

    def trigger_author(self, issue_key: str, label: str, status: str | None) -> str | None:
        return None


@asynccontextmanager
async def running_worker(
    client: Client,
    task_queue: str,
    database_url: str,
    jira: FakeJira,
    agent: FakeAgent,
    agent_addresses: tuple[str, ...] = ("127.0.0.1:1",),
    settings: Settings | None = None,
    search: Any = None,
    forge: Any = None,
) -> AsyncIterator[None]:
    """The real workflows and DB activities, with the fake Jira gateway and scripted agent, on `task_queue`."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    jobs = JobActivities(factory, ("127.0.0.1:1",))
    records = RecordActivities(factory, "http://ui/namespaces/default", "http://dash")
    jira_acts = JiraActivities(jira)
    # Jobs run through the queue: the scripted agent answers for every registered agent (id = address).
    with factory.begin() as session:
        for address in agent_addresses:
            agents.register(session, address)
    settings = settings or Settings.from_env(environ={"DATABASE_URL": database_url}, env_file=None)
    job_system = job_system_activities(factory, client, settings, "", search or NoSearch())
    notify = NotifyActivities(settings.notify, factory)
    starts = StartActivities(StartPolicy(jira, factory, settings.starts), checked_starter(client, settings))
    pull_requests = ForgeActivities(forge, "https://jira.test/browse", None, True)
    with ThreadPoolExecutor(32) as pool:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[OrchestrationWorkflow, JobExecutionWorkflow, StartCheckWorkflow, *job_system_workflows()],
            activities=[
                jira_acts.upsert_status_comment,
                jira_acts.post_comment_once,
                jira_acts.transition_issue,
                jira_acts.change_labels,
                jira_acts.upsert_remote_link,
                jira_acts.attach_text,
                jira_acts.read_issue,
                jira_acts.check_approver,
                jobs.create_job,
                jobs.assign_agent,
                jobs.finish_job,
                jobs.save_checkpoint,
                records.record_orchestration,
                records.run_links,
                notify.send_notification,
                starts.check_start,
                starts.start_checked_orchestration,
                pull_requests.open_pull_request,
                *agent.activities(),
                *job_system,
            ],
            activity_executor=pool,
            max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        ):
            try:
                yield
            finally:
                await settle(client, factory)
    engine.dispose()


async def settle(client: Client, factory: Any, timeout: float = 20.0) -> None:
    """Wait until the job workflows and queue monitors this test started have ended, before its worker stops.

    They run on their own (not as children of the orchestration), so a test can end while one is finishing; a
    task left pending on a task queue nobody polls stops the time-skipping server's clock for every later test.
    """
    with factory() as session:
        rows = session.execute(select(AgentJob.id, AgentJob.temporal_workflow_id, AgentJob.temporal_run_id)).all()
    ids = [f"queue-nudge-queued-{job_id}" for job_id, _, _ in rows]
    ids += [wid for job_id, wid, run in rows if wid] + [f"queue-nudge-after-{wid}-{run}" for _, wid, run in rows if run]
    deadline = time.monotonic() + timeout
    for workflow_id in ids:
        while time.monotonic() < deadline:
            try:
                description = await client.get_workflow_handle(workflow_id).describe()
            except RPCError:
                break  # never started
            if description.status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.05)


@pytest.fixture
async def harness(time_env: WorkflowEnvironment, task_queue: str, sqlite_url: str) -> AsyncIterator[Harness]:
    """A worker on a fresh task queue of the time-skipping server."""
    jira, agent, forge = FakeJira(), FakeAgent(), FakeForge()
    async with running_worker(time_env.client, task_queue, sqlite_url, jira, agent, forge=forge):
        # The server outlives the test: a fresh issue key keeps runs of different tests apart.
        key = f"DEMO-{next(_KEYS)}"
        harness = Harness(time_env.client, time_env, task_queue, jira, agent, sqlite_url, key, forge)
        try:
            yield harness
        finally:
            await end_runs(time_env.client, harness.started)
