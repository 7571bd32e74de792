"""Queueing and dispatching in one activity (activities/dispatch.py), on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities import dispatch
from activities.dispatch import START_TRIES, DispatchActivities, DispatchInput, QueueJobInput
from activities.jobs import JobActivities, JobFinished, NewJob
from activities.queue import ClaimedJob, QueueActivities
from activities.temporal_ops import TemporalCalls, WorkflowState
from app.jobqueue import agents
from app.store.models import AgentJob, JobLog
from tests.jobqueue.conftest import job_input

AGENT = "127.0.0.1:7001"


class Starts:
    """What the dispatcher asked Temporal to start (a test double of the worker's client calls); `failures` fail
    first."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.started: list[str] = []

    async def start_job(self, claimed: ClaimedJob, task_queue: str) -> bool:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("Temporal is unreachable")
        self.started.append(claimed.workflow_id)
        return True

    def calls(self) -> TemporalCalls:
        async def unused(*_args: object) -> WorkflowState:
            raise AssertionError("not used by dispatching")

        return TemporalCalls(self.start_job, unused, unused, unused, unused)  # type: ignore[arg-type]


def dispatcher(factory: sessionmaker[Session], starts: Starts) -> DispatchActivities:
    with factory.begin() as session:
        agents.register(session, AGENT)
    return DispatchActivities(JobActivities(factory), QueueActivities(factory), starts.calls(), retry_pause=0.0)


def queue_input(job_id: str) -> QueueJobInput:
    job = job_input(job_id, "PAY")
    new = NewJob(job.job_id, job.orchestration_run_id, job.issue_key, job.project_key, job.phase, job.attempt,
                 job.phase, job.roles, job.prompt, job.context, job.queue_kind)  # fmt: skip
    return QueueJobInput(new, replace(job, prompt="", context=""))


async def test_a_queued_job_is_created_with_its_spec_claimed_and_started(
    factory: sessionmaker[Session],
) -> None:
    starts = Starts()
    acts = dispatcher(factory, starts)
    done = await ActivityEnvironment().run(acts.queue_job, queue_input("j1"))
    assert (done.agents, done.started) == ([AGENT], ["j1"]) and starts.started == ["job-j1"]
    with factory() as session:
        row = session.get(AgentJob, "j1")
        assert row is not None and row.status == "in_progress" and row.agent_id == AGENT
        assert row.spec is not None and '"prompt": "plan j1"' in row.spec  # the job workflow gets its prompt
        logged = session.scalars(select(JobLog.message).where(JobLog.job_id == "j1")).all()
        assert logged == [f"claimed by agent {AGENT} (j1 queued)"]


async def test_a_retried_queue_job_creates_and_starts_nothing_twice(factory: sessionmaker[Session]) -> None:
    starts = Starts()
    acts = dispatcher(factory, starts)
    env = ActivityEnvironment()
    await env.run(acts.queue_job, queue_input("j1"))
    again = await env.run(acts.queue_job, queue_input("j1"))  # its answer was lost: Temporal runs it again
    assert again.started == [] and starts.started == ["job-j1"]
    with factory() as session:
        assert len(session.scalars(select(AgentJob)).all()) == 1


async def test_a_busy_project_keeps_the_next_job_waiting_until_a_dispatch_after_its_end(
    factory: sessionmaker[Session],
) -> None:
    starts = Starts()
    acts = dispatcher(factory, starts)
    env = ActivityEnvironment()
    await env.run(acts.queue_job, queue_input("j1"))
    second = await env.run(acts.queue_job, queue_input("j2"))
    assert second.started == []  # one job per agent and per project: j1 runs
    JobActivities(factory).finish_job(JobFinished("j1", "completed"))
    after = await env.run(acts.dispatch_jobs, DispatchInput("a job ended"))
    assert after.started == ["j2"] and starts.started == ["job-j1", "job-j2"]


async def test_a_start_that_keeps_failing_leaves_the_claim_to_the_sweep(
    factory: sessionmaker[Session],
) -> None:
    starts = Starts(failures=START_TRIES)
    acts = dispatcher(factory, starts)
    done = await ActivityEnvironment().run(acts.queue_job, queue_input("j1"))
    assert done.started == [] and starts.started == []
    with factory() as session:
        row = session.get(AgentJob, "j1")
        assert row is not None and row.status == "in_progress"  # claimed, no workflow: the sweep requeues it


async def test_a_start_that_fails_then_works_is_tried_again_in_the_activity(factory: sessionmaker[Session]) -> None:
    starts = Starts(failures=START_TRIES - 1)
    done = await ActivityEnvironment().run(dispatcher(factory, starts).queue_job, queue_input("j1"))
    assert done.started == ["j1"] and starts.started == ["job-j1"]


class SlowStarts(Starts):
    """Starts that take a while (Temporal slow to answer)."""

    async def start_job(self, claimed: ClaimedJob, task_queue: str) -> bool:
        await asyncio.sleep(0.5)
        return await super().start_job(claimed, task_queue)


async def test_a_dispatch_heartbeats_while_it_waits(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker lost mid-dispatch is noticed by its missed heartbeats (DISPATCH_HEARTBEAT), whatever step it waits in.
    monkeypatch.setattr(dispatch, "BEAT_EVERY", 0.05)
    env, beats = ActivityEnvironment(), []
    env.on_heartbeat = lambda *details: beats.append(details)
    done = await env.run(dispatcher(factory, SlowStarts()).queue_job, queue_input("j1"))
    assert done.started == ["j1"]
    assert len(beats) >= 5, beats  # about one per 0.05 s of the 0.5 s start
