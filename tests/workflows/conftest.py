"""A real worker (real workflows, real DB activities) with the fake Jira gateway and the scripted agent."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
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
from app.worker.main import HEARTBEAT_THROTTLE
from app.worker.registry import checked_starter, job_system_activities, job_system_workflows
from tests.worker_stop import running
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

    async def start(self, key: str | None = None, **overrides: object) -> WorkflowHandle[OrchestrationWorkflow, object]:
        key = key or self.key
        fields: dict[str, object] = {"issue_key": key, "project_key": key.split("-")[0], "started_by": "acc-reporter"}
        fields.update(overrides)
        fields.setdefault("index_search_attributes", False)
        fields.setdefault("lean", True)  # what every run started now gets (runs from before: the saved histories)
        return await self.client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput(**fields),  # type: ignore[arg-type]
            id=workflow_id_for(key),
            task_queue=self.task_queue,
        )


HISTORIES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"


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


QUERY_TIMEOUT = timedelta(seconds=5)


async def until_state(
    handle: WorkflowHandle[OrchestrationWorkflow, object], check: Callable[[object], bool], what: str
) -> object:
    """Poll the workflow's state query until `check(state)` holds."""
    deadline = time.monotonic() + 20
    state: object = None
    while True:
        try:
            state = await handle.query(OrchestrationWorkflow.get_status, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            # The time-skipping server keeps a query that arrives during a workflow task until that task completes,
            # and never answers it when the task continued the run as new: ask again (the next run answers).
            if err.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
        else:
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
        worker = Worker(
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
                records.record_phase_end,
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
        )
        async with running(worker):
            yield
    engine.dispose()


@pytest.fixture
async def harness(time_env: WorkflowEnvironment, task_queue: str, sqlite_url: str) -> AsyncIterator[Harness]:
    """A worker on a fresh task queue of the time-skipping server."""
    async with harness_on(time_env, task_queue, sqlite_url, f"DEMO-{next(_KEYS)}") as made:
        yield made


@pytest.fixture
async def dev_harness(temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str) -> AsyncIterator[Harness]:
    """The same on the real dev server, for a test that reads a run while it continues as new: the time-skipping
    server never answers a query that arrives during that workflow task, and the run it ended then lacks its
    continued-as-new event (seen on a fresh clone, 2026-12-07). No time skipping here: such a test must not sleep."""
    # The dev server lives for the session: a key of its own among the other tests' runs on it.
    async with harness_on(temporal_env, task_queue, sqlite_url, f"DEMO-{uuid.uuid4().int % 10**6 + 10_000}") as made:
        yield made


@asynccontextmanager
async def harness_on(env: WorkflowEnvironment, task_queue: str, sqlite_url: str, key: str) -> AsyncIterator[Harness]:
    """A worker with fresh fakes on `task_queue` of `env`, for the issue `key`."""
    jira, agent, forge = FakeJira(), FakeAgent(), FakeForge()
    async with running_worker(env.client, task_queue, sqlite_url, jira, agent, forge=forge):
        yield Harness(env.client, env, task_queue, jira, agent, sqlite_url, key, forge)
