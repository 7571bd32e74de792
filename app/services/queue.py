"""Queue and agent management for the CLI and the HTTP API: one module, so both behave the same.

Database changes go through app.jobqueue; whoever waits on a changed job is told through Temporal (a removed or
cancelled job ends its orchestration's wait with a CANCELLED result, a resumed queue or a returning agent gets a
queue monitor at once). Temporal is checked before a removal, so an outage refuses the change instead of leaving
an orchestration waiting for a job that will never run.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from app.config import Settings
from app.jobqueue import agents, edits, views
from app.jobqueue.agents import AgentView
from app.jobqueue.edits import QueueError
from app.store.models import utcnow
from app.temporal import job_control
from app.temporal.gateway import TemporalGateway
from app.temporal.schedules import ensure_agent_schedules
from workflows.job_types import ErrorKind, JobResult
from workflows.queue_types import JobRef, MonitorStart, is_run_id


class NoJob(LookupError):
    """There is no job with this id."""


@dataclass(frozen=True)
class CancelOutcome:
    """What cancelling a job did: `removed` from the queue, or `cancelling` its running workflow."""

    job_id: str
    outcome: str
    message: str


class QueueService:
    """Sync queue operations on the database and Temporal (through the process's TemporalGateway)."""

    def __init__(self, settings: Settings, session_factory: sessionmaker[Session], temporal: TemporalGateway) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.temporal = temporal

    def show(self, project_key: str) -> views.QueueView:
        """The project's executing and queued jobs."""
        with self.session_factory() as session:
            return views.queue_status(session, project_key)

    def job(self, job_id: str) -> views.JobView:
        """One job, or NoJob."""
        with self.session_factory() as session:
            found = views.job_view(session, job_id)
        if found is None:
            raise NoJob(f"there is no job {job_id!r}")
        return found

    def remove(self, job_id: str, actor: str) -> JobRef:
        """Take a queued job out of the queue and end its orchestration's wait (a CANCELLED result)."""
        self.job(job_id)
        self.temporal.call(lambda client: client.service_client.check_health())
        reason = f"removed from the queue by {actor}"
        with self.session_factory.begin() as session:
            ref = edits.remove(session, job_id, reason, utcnow())
        self._tell_cancelled(ref, reason)
        return ref

    def move(self, job_id: str, position: int) -> int:
        """Move a queued job to a position of its project's queue (1 = next)."""
        self.job(job_id)
        with self.session_factory.begin() as session:
            return edits.move(session, job_id, position)

    def set_paused(self, project_key: str, paused: bool, actor: str) -> bool:
        """Pause or resume a project's queue; a resumed queue is looked at at once. True when it changed."""
        with self.session_factory.begin() as session:
            changed = edits.set_paused(session, project_key, paused, actor)
        if not paused:
            self.nudge(f"resume-{project_key}", f"queue {project_key} resumed by {actor}")
        return changed

    def cancel(self, job_id: str, actor: str) -> CancelOutcome:
        """Cancel a job: a queued one is removed; a running one's workflow is cancelled (stopping the agent job)."""
        job = self.job(job_id)
        if job.status == "queued":
            self.remove(job_id, actor)
            return CancelOutcome(job_id, "removed", f"job {job_id} was removed from the queue")
        if job.status != "in_progress" or not job.temporal_workflow_id:
            raise QueueError(f"job {job_id} is {job.status}: there is nothing to cancel")
        workflow_id = job.temporal_workflow_id
        self.temporal.call(lambda client: job_control.cancel(client, workflow_id))
        return CancelOutcome(job_id, "cancelling", f"cancellation of job {job_id} was requested ({workflow_id})")

    def workflow_status(self, job_id: str) -> dict[str, Any]:
        """The job and Temporal's description of its workflow (None before the job was claimed)."""
        job = self.job(job_id)
        workflow_id = job.temporal_workflow_id
        if workflow_id is None:
            return {"job": asdict(job), "workflow": None}
        found = self.temporal.call(lambda client: job_control.describe_job(client, workflow_id))
        if found is not None:
            found["url"] = self.settings.temporal.workflow_url(found["workflow_id"], found["run_id"])
        return {"job": asdict(job), "workflow": found}

    def agents(self) -> list[AgentView]:
        """Every registered agent and its health."""
        with self.session_factory() as session:
            return agents.list_agents(session)

    def add_agent(self, address: str, roles: list[str] | None = None) -> AgentView:
        """Register an agent, or mark a known one online again; its schedules are created or unpaused."""
        with self.session_factory.begin() as session:
            agent = agents.register(session, address, roles, revive=True)

        async def schedules(client: Client) -> None:
            await ensure_agent_schedules(client, self.settings, agent.agent_id, online=True)

        self.temporal.call(schedules)
        self.nudge(f"agent-{agent.agent_id}-{uuid.uuid4().hex[:8]}", f"agent {agent.agent_id} added", agent.agent_id)
        return agent

    def nudge(self, key: str, reason: str, agent_id: str | None = None) -> None:
        """Start a queue monitor now (every idle agent when `agent_id` is None)."""
        start = MonitorStart(f"{key}-{uuid.uuid4().hex[:8]}", reason, agent_id)
        task_queue = self.settings.temporal.task_queue
        self.temporal.call(lambda client: job_control.start_monitor(client, task_queue, start))

    def _tell_cancelled(self, ref: JobRef, reason: str) -> None:
        if not is_run_id(ref.orchestration_run_id):
            return  # not queued by an orchestration run: nobody waits for it
        result = JobResult(ref.job_id, False, error_kind=ErrorKind.CANCELLED, error=reason)
        run_id = ref.orchestration_run_id
        self.temporal.call(lambda client: job_control.tell_job_finished(client, ref.issue_key, run_id, result))
