"""The scheduled sweeps on the dev server: orphan/stuck recovery (seed 19-22), reconciliation, and the schedules."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from app.jobqueue.agents import list_agents
from app.store.db import make_engine, make_session_factory
from app.store.models import Agent, AgentJob, JobLog, Orchestration, utcnow
from app.temporal.schedules import agent_plans, apply_plan, set_agent_paused
from app.worker.registry import start_job_system
from tests.conftest import make_settings
from tests.jobqueue.conftest import job_input
from tests.jobqueue.test_system import project_keys
from tests.jobqueue.timed_agent import TimedAgent
from tests.workflows.conftest import NoSearch, running_worker, until
from tests.workflows.fakes import FakeJira
from workflows.ids import workflow_id_for
from workflows.job_types import JobInput
from workflows.messages import OrchestrationInput, RunStatus
from workflows.orchestration import OrchestrationWorkflow
from workflows.queue_monitor import QueueMonitorWorkflow
from workflows.queue_types import (
    RECONCILE_ID,
    RECOVERY_ID,
    REVIVAL_ID,
    MonitorInput,
    ReconcileInput,
    RecoveryInput,
    agent_schedule_ids,
)
from workflows.reconcile import ReconcileWorkflow
from workflows.recovery import JobRecoveryWorkflow
from workflows.retention import RETENTION_ID

AGENT = "127.0.0.1:1"


async def test_stuck_and_orphaned_jobs_go_back_to_the_queue_and_run_again(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str
) -> None:
    client = temporal_env.client
    factory = make_session_factory(make_engine(sqlite_url))
    agent, jira = TimedAgent(), FakeJira()
    agent.block.add("EXPLORE")
    project, ghost_project = project_keys(2)
    key = f"{project}-1"
    async with running_worker(client, task_queue, sqlite_url, jira, agent, (AGENT, "127.0.0.1:2")):
        handle = await client.start_workflow(
            OrchestrationWorkflow.run,
            OrchestrationInput(key, project, auto_proceed=True, index_search_attributes=False),
            id=workflow_id_for(key),
            task_queue=task_queue,
        )
        await until(agent.started.is_set, what="EXPLORE to start")
        # Its orchestration's run id is well-formed but unknown to Temporal: telling it must not wedge the sweep.
        ghost = dataclasses.replace(job_input("ghost", ghost_project), orchestration_run_id=str(uuid.uuid4()))
        with factory.begin() as session:
            long_ago = utcnow() - timedelta(hours=2)
            # Stuck: EXPLORE runs, but nothing about it has moved for two hours.
            session.execute(update(AgentJob).values(updated_at=long_ago, started_at=long_ago))
            session.execute(update(JobLog).values(created_at=long_ago))
            # Orphaned: claimed two hours ago, and its workflow never existed.
            session.add(_orphan(ghost, long_ago))
        stuck = _job(factory, "EXPLORE")
        report = await client.execute_workflow(
            JobRecoveryWorkflow.run, RecoveryInput(), id=f"recovery-{uuid.uuid4()}", task_queue=task_queue
        )
        assert (report.examined, sorted(report.requeued), report.failed) == (2, sorted([stuck.id, "ghost"]), [])
        first = await client.get_workflow_handle(stuck.temporal_workflow_id or "").describe()
        assert first.status == WorkflowExecutionStatus.TERMINATED  # what was left of it cannot report over us
        await until(lambda: any("no progress for 120 minutes" in t for t in jira.texts()), what="the issue comment")
        await until(lambda: _job(factory, "PLAN", ghost_project).status == "completed", what="the orphan to run again")
        agent.block.clear()
        assert (await asyncio.wait_for(handle.result(), 60)).status == RunStatus.COMPLETED
        again = _job(factory, "EXPLORE", project)
        assert (again.status, again.recoveries, again.temporal_workflow_id) == (
            "completed",
            1,
            f"job-{stuck.id}-recovery-1",
        )


def _orphan(job: JobInput, since: datetime) -> AgentJob:
    spec = json.dumps(asdict(job), sort_keys=True)
    data = json.loads(spec)
    return AgentJob(
        id=data["job_id"], orchestration_run_id=data["orchestration_run_id"], issue_key=data["issue_key"],
        project_key=data["project_key"], phase=data["phase"], attempt=1, command=data["phase"], roles="planner",
        prompt=data["prompt"], context=data["context"], queue_kind="backlog", status="in_progress", agent_id=AGENT,
        temporal_workflow_id="job-ghost", outputs="{}", recoveries=0, spec=spec, started_at=since, updated_at=since,
    )  # fmt: skip


def _job(factory: sessionmaker[Session], phase: str, project: str | None = None) -> AgentJob:
    with factory() as session:
        query = select(AgentJob).where(AgentJob.phase == phase)
        if project is not None:
            query = query.where(AgentJob.project_key == project)
        found: AgentJob = session.scalars(query).one()
        return found


class Search(NoSearch):
    """Jira's answer to the sweep's JQL: these issues carry the trigger label (and none has new comments)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.queries: list[str] = []

    def search_issue_keys(self, jql: str) -> list[str]:
        self.queries.append(jql)
        return list(self.keys) if jql.startswith("labels = ") else []


async def test_reconciliation_starts_labelled_issues_that_have_no_orchestration(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str
) -> None:
    client = temporal_env.client
    project = project_keys(1)[0]
    fresh, recorded, in_temporal = (f"{project}-{n}" for n in (1, 2, 3))
    search = Search([fresh, recorded, in_temporal])
    factory = make_session_factory(make_engine(sqlite_url))
    with factory.begin() as session:  # a run we started and recorded long ago (its Temporal history is gone)
        session.add(
            Orchestration(issue_key=recorded, project_key=project, temporal_workflow_id="x", temporal_run_id="x")
        )
    settings = make_settings(Path("/tmp"), DATABASE_URL=sqlite_url, TEMPORAL_TASK_QUEUE=task_queue)
    agent = TimedAgent()
    async with running_worker(client, task_queue, sqlite_url, FakeJira(), agent, settings=settings, search=search):
        # Temporal knows this one (a run started by a webhook a moment ago, not recorded yet).
        await client.execute_workflow(
            QueueMonitorWorkflow.run, MonitorInput(), id=workflow_id_for(in_temporal), task_queue=task_queue
        )
        report = await client.execute_workflow(
            ReconcileWorkflow.run, ReconcileInput(), id=f"rc-{uuid.uuid4()}", task_queue=task_queue
        )
        assert (report.found, report.started, report.skipped) == ([fresh, in_temporal], [fresh], [in_temporal])
        assert search.queries[0] == 'labels = "ai-orchestrate" AND status != "Done" ORDER BY created ASC'
        state = await client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id_for(fresh)).query(
            OrchestrationWorkflow.get_status
        )
        assert state.issue_key == fresh and state.started_by == "reconcile"
        await until(lambda: any(r.request.issue_key == fresh for r in agent.runs), what="its first job")
        again = await client.execute_workflow(
            ReconcileWorkflow.run, ReconcileInput(), id=f"rc-{uuid.uuid4()}", task_queue=task_queue
        )
        assert again.started == []  # nothing is started twice
        await client.get_workflow_handle(workflow_id_for(fresh)).terminate("test over")


async def test_schedules_are_created_once_then_updated_keeping_their_pause(
    temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    client = temporal_env.client
    agent_id = f"127.0.0.1:{uuid.uuid4().int % 50000 + 10000}"
    settings = make_settings(tmp_path, TEMPORAL_TASK_QUEUE=task_queue, QUEUE_MONITOR_INTERVAL="45s")
    try:
        assert [await apply_plan(client, plan, task_queue) for plan in agent_plans(settings, agent_id)] == [
            "created"
        ] * 2
        assert await set_agent_paused(client, agent_id, True, "agent offline") == list(agent_schedule_ids(agent_id))
        faster = make_settings(tmp_path, TEMPORAL_TASK_QUEUE=task_queue, QUEUE_MONITOR_INTERVAL="10s")
        assert [await apply_plan(client, plan, task_queue) for plan in agent_plans(faster, agent_id)] == ["updated"] * 2
        monitor = await client.get_schedule_handle(agent_schedule_ids(agent_id)[0]).describe()
        assert monitor.schedule.state.paused and monitor.schedule.state.note == "agent offline"
        assert monitor.schedule.spec.intervals[0].every == timedelta(seconds=10)
        assert await set_agent_paused(client, agent_id, True, "again") == []  # already paused: nothing to do
    finally:
        for schedule_id in agent_schedule_ids(agent_id):
            await client.get_schedule_handle(schedule_id).delete()


async def test_worker_start_up_registers_agents_and_sets_up_every_schedule(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str, tmp_path: Path
) -> None:
    client = temporal_env.client
    factory = make_session_factory(make_engine(sqlite_url))
    known, new = (f"127.0.0.1:{uuid.uuid4().int % 40000 + 20000 + n}" for n in (0, 1))
    with factory.begin() as session:  # an agent the health checks had found dead before the restart
        session.add(Agent(id=known, address=known, roles="", status="offline", consecutive_failures=3))
    settings = make_settings(
        tmp_path, DATABASE_URL=sqlite_url, TEMPORAL_TASK_QUEUE=task_queue, AGENT_ADDRESSES=f"{known},{new}"
    )
    ids = [*agent_schedule_ids(known), *agent_schedule_ids(new), REVIVAL_ID, RECOVERY_ID, RECONCILE_ID, RETENTION_ID]
    try:
        await start_job_system(client, settings, factory)
        await start_job_system(client, settings, factory)  # a second start-up changes nothing
        with factory() as session:
            status = {a.agent_id: a.status for a in list_agents(session)}
        assert status == {known: "offline", new: "online"}  # registration does not bring a dead agent back
        described = {sid: await client.get_schedule_handle(sid).describe() for sid in ids}
        paused = {sid for sid, d in described.items() if d.schedule.state.paused}
        assert paused == set(agent_schedule_ids(known))
        assert all(d.schedule.action.task_queue == task_queue for d in described.values())
    finally:
        for schedule_id in ids:
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id).delete()
