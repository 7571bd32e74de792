"""The job system end to end on the dev server: real workflows, queue, worker; the agent and Jira are scripted.

Seed properties 1-6 and 28-30 across whole runs: two agents, ten issues of two projects started at once.
No schedule exists here, so every job after the first starts from a nudge (property 4).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import string
import time

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from app.store.db import make_engine, make_session_factory
from app.store.models import AgentJob
from tests.jobqueue.timed_agent import TimedAgent
from tests.workflows.conftest import running_worker
from tests.workflows.fakes import FakeJira
from workflows.ids import workflow_id_for
from workflows.messages import OrchestrationInput, RunStatus
from workflows.orchestration import OrchestrationWorkflow

AGENTS = ("127.0.0.1:1", "127.0.0.1:2")


def project_keys(n: int) -> list[str]:
    """Project keys no other test on this dev server uses."""
    return ["Q" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(6)) for _ in range(n)]


pytestmark = pytest.mark.long


async def test_two_agents_ten_issues_two_projects(
    temporal_env: WorkflowEnvironment, task_queue: str, sqlite_url: str
) -> None:
    client = temporal_env.client
    agent = TimedAgent()
    alpha, beta = project_keys(2)
    issues = [f"{alpha}-{n}" for n in range(1, 6)] + [f"{beta}-{n}" for n in range(1, 6)]
    agent.fail_tests_once |= {f"{alpha}-2", f"{beta}-4"}  # rework jobs (FIX, TEST again) join the queue mid-way
    started = time.monotonic()
    async with running_worker(client, task_queue, sqlite_url, FakeJira(), agent, agent_addresses=AGENTS):
        handles = [
            await client.start_workflow(
                OrchestrationWorkflow.run,
                OrchestrationInput(key, key.rsplit("-", 1)[0], auto_proceed=True, index_search_attributes=False),
                id=workflow_id_for(key),
                task_queue=task_queue,
            )
            for key in issues
        ]
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
        assert [r.status for r in results] == [RunStatus.COMPLETED] * 10
        jobs = _jobs(sqlite_url)
        for job in jobs:  # property 1: each job ran in the workflow the database names, to completion
            described = await client.get_workflow_handle(
                job.temporal_workflow_id, run_id=job.temporal_run_id
            ).describe()
            assert described.status == WorkflowExecutionStatus.COMPLETED
    print(f"ten runs, {len(jobs)} jobs in {time.monotonic() - started:.1f}s")
    phase_runs = [r for r in agent.runs if r.request.command == r.request.phase]
    assert sorted(r.request.job_id for r in phase_runs) == sorted(j.id for j in jobs), "every job ran exactly once"
    assert sum(j.queue_kind == "rework" for j in jobs) == 4
    by_job = {j.id: j for j in jobs}
    for run in phase_runs:  # property 2: the agent got every parameter the orchestration queued
        spec = json.loads(by_job[run.request.job_id].spec or "{}")
        got = run.request
        assert (got.prompt, got.roles, got.context, got.attempt, got.issue_key) == (
            spec["prompt"], spec["roles"], spec["context"], spec["attempt"], spec["issue_key"],
        )  # fmt: skip
    spans = _spans(agent)
    for agent_id in AGENTS:  # property 30: one job at a time per agent
        _assert_one_at_a_time([s for s in spans if s[1] == agent_id], f"agent {agent_id}")
    for project in (alpha, beta):  # properties 3, 5, 6: one at a time per project, in queue order
        ran = [s for s in spans if by_job[s[0]].project_key == project]
        _assert_one_at_a_time(ran, f"project {project}")
        _assert_rework_went_first([by_job[s[0]] for s in ran])


def _jobs(database_url: str) -> list[AgentJob]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        jobs = list(session.scalars(select(AgentJob)))
    engine.dispose()
    return jobs


def _spans(agent: TimedAgent) -> list[tuple[str, str, float, float]]:
    """Each job's span on its agent: from its first command to its last (cleanup included)."""
    spans: dict[str, tuple[str, str, float, float]] = {}
    for run in agent.runs:
        job_id = run.request.job_id.split(":", 1)[0]
        first = spans.get(job_id, (job_id, run.request.agent_address, run.started, run.ended))
        spans[job_id] = (job_id, first[1], min(first[2], run.started), max(first[3], run.ended))
        assert first[1] == run.request.agent_address, f"{job_id} moved between agents"
    return sorted(spans.values(), key=lambda s: s[2])


def _assert_one_at_a_time(spans: list[tuple[str, str, float, float]], what: str) -> None:
    for before, after in itertools.pairwise(spans):
        assert after[2] >= before[3], f"{after[0]} started on {what} while {before[0]} ran"


def _assert_rework_went_first(ran: list[AgentJob]) -> None:
    """Property 29: when a project's job was claimed, no rework job of that project had been waiting for it."""
    for job in ran:
        if job.queue_kind == "rework" or job.started_at is None:
            continue
        for other in ran:
            waited = other.queue_kind == "rework" and other.started_at is not None
            # A margin for the moment between a job's creation and its hand-over to the queue.
            if (
                waited
                and other.created_at.timestamp() + 0.5 < job.started_at.timestamp() < other.started_at.timestamp()
            ):
                raise AssertionError(f"backlog job {job.id} was claimed while rework job {other.id} waited")
