"""Finding 15 (issue 13): a quiet job is judged by its dispatch activity's heartbeats, not only by its log lines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.agent_types import AgentCommand
from activities.queue import AgentRef, QueueActivities
from activities.recovery import RecoverInput, RecoveryActivities, Suspect, SuspectQuery
from app.agent_server.server import AgentServer
from app.store.models import AgentJob, JobLog, utcnow
from tests.agent.conftest import AgentWorld, world_settings
from tests.agent.dispatch_workflow import DispatchInput, DispatchWorkflow
from tests.agent.test_dispatch_activity import dispatching, until
from tests.conftest import free_port
from tests.jobqueue.conftest import add_agents, add_job, job_input
from workflows.recovery import lost_reason

pytestmark = pytest.mark.asyncio(loop_scope="session")
HOUR = 3600.0


def silent_profile(control: Path) -> str:
    """CODE is a tool that prints nothing until it is done (it waits for the release file)."""
    wait = f"import pathlib, time\\nwhile not pathlib.Path('{control / 'release'}').exists(): time.sleep(0.05)"
    command = f'run = ["{{python}}", "-c", "{wait}"]'
    return f'name = "silent"\n[defaults]\nstdin = "none"\ntimeout = "2m"\n\n[commands.CODE]\n{command}\n'


@pytest.fixture
def silent_agent(tmp_path: Path) -> Iterator[AgentWorld]:
    """A running agent whose CODE command is silent."""
    profile = tmp_path / "silent.toml"
    profile.write_text(silent_profile(tmp_path / "control"))
    world = world_settings(tmp_path, free_port(), profile=str(profile))
    server = AgentServer(world.settings)
    server.start()
    yield world
    world.release()
    server.stop(grace=1)


def claimed(factory: sessionmaker[Session], world: AgentWorld, job_id: str) -> tuple[str, AgentCommand]:
    """Queue a CODE job and let the agent claim it: its job workflow's id, and the command to dispatch."""
    add_agents(factory, world.address)
    add_job(factory, job_input(job_id, job_id.upper()))
    claim = QueueActivities(factory).claim_next_job(AgentRef(world.address))
    assert claim is not None and claim.job.job_id == job_id
    command = AgentCommand(job_id, 1, world.address, "CODE", claim.job.issue_key, "CODE", [], "", "{}")
    return claim.workflow_id, command


def suspect(factory: sessionmaker[Session], job_id: str, stuck_after: timedelta) -> Suspect:
    listing = RecoveryActivities(factory, stuck_after=stuck_after).list_recovery_suspects(SuspectQuery())
    [found] = [s for s in listing.suspects if s.job_id == job_id]
    return found


def stuck(found: Suspect, stuck_after: timedelta) -> bool:
    # The job workflow is running (its activity is live or was): only staleness can make it lost.
    return lost_reason(found, "RUNNING", stuck_after.total_seconds(), 120, False) is not None


async def test_a_silent_job_is_alive_while_its_activity_heartbeats_and_stuck_once_they_stop(
    temporal_env: WorkflowEnvironment, silent_agent: AgentWorld, database_url: str, factory: sessionmaker[Session]
) -> None:
    client = temporal_env.client
    async with dispatching(client, silent_agent, database_url, record_every=0.1) as (task_queue, _):
        workflow_id, command = claimed(factory, silent_agent, "quiet")
        handle = await client.start_workflow(
            DispatchWorkflow.run, DispatchInput(command), id=f"{workflow_id}-{uuid.uuid4()}", task_queue=task_queue
        )
        long_ago = utcnow() - timedelta(hours=2)
        with factory.begin() as session:  # claimed two hours ago, by this job workflow run (assign_agent)
            session.execute(
                update(AgentJob)
                .where(AgentJob.id == "quiet")
                .values(temporal_run_id=handle.result_run_id, started_at=long_ago, updated_at=long_ago)
            )
        await until(lambda: _logged(factory, "quiet", "10% running"), what="the silent command to start")
        # Two silent hours: every line the job ever logged (the agent's "running ..." too) is old.
        with factory.begin() as session:
            session.execute(update(JobLog).values(created_at=long_ago))
        first = _heartbeat(factory)
        await until(lambda: _heartbeat(factory) != first, what="the stamp to move on")
        alive = suspect(factory, "quiet", timedelta(hours=1))
        assert alive.idle_seconds < 60 and alive.claimed_seconds >= 2 * HOUR - 60
        assert not stuck(alive, timedelta(hours=1))
        with factory() as session:
            row = session.get(AgentJob, "quiet")
            assert row is not None and row.updated_at < utcnow() - timedelta(hours=1)  # not an edit of the job
    # The worker is gone: the agent still works, but nothing follows the job any more.
    gone = timedelta(seconds=2)
    await until(lambda: stuck(suspect(factory, "quiet", gone), gone), what="the stopped heartbeats to count")
    last = _heartbeat(factory)
    recovered = RecoveryActivities(factory).recover_job(RecoverInput("quiet", handle.result_run_id, "no heartbeat"))
    assert recovered.outcome == "requeued"
    assert _heartbeat(factory) == last
    await handle.terminate("test over")


async def test_a_leftover_activity_does_not_keep_a_requeued_job_alive(
    temporal_env: WorkflowEnvironment, silent_agent: AgentWorld, database_url: str, factory: sessionmaker[Session]
) -> None:
    client = temporal_env.client
    async with dispatching(client, silent_agent, database_url, record_every=0.1) as (task_queue, _):
        _, command = claimed(factory, silent_agent, "moved")
        with factory.begin() as session:  # the job now belongs to another job workflow run
            session.execute(update(AgentJob).where(AgentJob.id == "moved").values(temporal_run_id="another-run"))
        handle = await client.start_workflow(
            DispatchWorkflow.run, DispatchInput(command), id=f"dispatch-{uuid.uuid4()}", task_queue=task_queue
        )
        await until(lambda: _logged(factory, "moved", "10% running"), what="the job to start")
        silent_agent.release()
        assert (await handle.result()).success
    assert _heartbeat(factory, "moved") is None


def _logged(factory: sessionmaker[Session], job_id: str, start: str) -> bool:
    with factory() as session:
        query = select(JobLog.id).where(JobLog.job_id == job_id, JobLog.message.startswith(start)).limit(1)
        return session.scalar(query) is not None


def _heartbeat(factory: sessionmaker[Session], job_id: str = "quiet") -> object:
    with factory() as session:
        row = session.get(AgentJob, job_id)
        assert row is not None
        return row.heartbeat_at
