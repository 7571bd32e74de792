"""Activities that keep agent job records and orchestration checkpoints in the database."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from app.jobqueue import edits
from app.jobqueue.locks import begin_write, lock_project
from app.store.models import Agent, AgentJob, Checkpoint, utcnow


@dataclass(frozen=True)
class NewJob:
    """A phase's agent job as the orchestration defines it; the id is deterministic so retries re-find it."""

    job_id: str
    orchestration_run_id: str
    issue_key: str
    project_key: str
    phase: str
    attempt: int
    command: str
    roles: list[str]
    prompt: str
    context: str
    queue_kind: str = "backlog"


@dataclass(frozen=True)
class AssignInput:
    """The job's JobExecutionWorkflow is starting and needs an agent."""

    job_id: str
    temporal_workflow_id: str
    temporal_run_id: str


@dataclass(frozen=True)
class Assignment:
    """Which agent runs the job."""

    agent_address: str


@dataclass(frozen=True)
class JobFinished:
    """How the job ended."""

    job_id: str
    status: str
    summary: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    pr_url: str | None = None
    error_kind: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CheckpointInput:
    """The orchestration's state after a phase, as JSON."""

    run_id: str
    issue_key: str
    phase: str
    state_json: str


class JobActivities:
    """Job records and checkpoints (idempotent: every write is an upsert keyed by a stable id)."""

    def __init__(self, session_factory: sessionmaker[Session], agent_addresses: tuple[str, ...] = ()) -> None:
        self.session_factory = session_factory
        self.agent_addresses = agent_addresses

    @activity.defn
    def create_job(self, job: NewJob) -> None:
        """Insert the job as queued at the end of its project's queue, unless it already exists."""
        with self.session_factory.begin() as session:
            insert_job(session, job)

    @activity.defn
    def assign_agent(self, started: AssignInput) -> Assignment:
        """Pick the agent (an online registered one, else the first configured), mark the job in progress."""
        with self.session_factory.begin() as session:
            job = session.get(AgentJob, started.job_id)
            if job is None:
                raise LookupError(f"job {started.job_id} does not exist")
            if job.status == "in_progress" and job.agent_id and job.temporal_run_id in (None, started.temporal_run_id):
                # A retry of this activity, or a job the queue monitor claimed for this agent: keep that agent.
                job.temporal_workflow_id, job.temporal_run_id = started.temporal_workflow_id, started.temporal_run_id
                return Assignment(job.agent_id)
            online = session.scalars(select(Agent.address).where(Agent.status == "online").order_by(Agent.address))
            address = next(iter(online), None) or (self.agent_addresses[0] if self.agent_addresses else None)
            if address is None:
                raise LookupError("no agent is configured (AGENT_ADDRESSES) or registered")
            job.status = "in_progress"
            job.agent_id = address
            job.temporal_workflow_id = started.temporal_workflow_id
            job.temporal_run_id = started.temporal_run_id
            job.order_in_queue = None
            job.started_at = job.started_at or utcnow()
            return Assignment(address)

    @activity.defn
    def finish_job(self, finished: JobFinished) -> None:
        """Record the outcome (the seed's updateJobStatus: status, PR link, error; and the summary and outputs)."""
        with self.session_factory.begin() as session:
            if session.get(AgentJob, finished.job_id) is None:
                raise LookupError(f"job {finished.job_id} does not exist")
            edits.update_status(session, finished.job_id, finished.status, utcnow(), finished.pr_url)
            job = session.get(AgentJob, finished.job_id)
            assert job is not None  # locked by update_status
            job.summary = finished.summary
            job.outputs = json.dumps(finished.outputs, sort_keys=True)
            job.error_kind = finished.error_kind
            job.error = finished.error

    @activity.defn
    def save_checkpoint(self, checkpoint: CheckpointInput) -> None:
        """Upsert the state saved after `phase` of this run."""
        with self.session_factory.begin() as session:
            store_checkpoint(session, checkpoint)


def insert_job(session: Session, job: NewJob) -> None:
    """Insert the job as queued at the end of its project's queue unless it exists, in the caller's transaction."""
    # Under the write lock (SQLite) or the project's row lock (PostgreSQL) from here to commit: positions are given
    # one insert at a time, and `created_at` orders the project's jobs as they entered the queue (a time taken
    # before waiting for a lock could be older than that of a job committed first).
    begin_write(session)
    lock_project(session, job.project_key)
    if session.get(AgentJob, job.job_id) is not None:
        return
    last = session.scalar(
        select(func.max(AgentJob.order_in_queue)).where(
            AgentJob.project_key == job.project_key, AgentJob.status == "queued"
        )
    )
    session.add(
        AgentJob(
            id=job.job_id,
            orchestration_run_id=job.orchestration_run_id,
            issue_key=job.issue_key,
            project_key=job.project_key,
            phase=job.phase,
            attempt=job.attempt,
            command=job.command,
            roles=",".join(job.roles),
            prompt=job.prompt,
            context=job.context,
            queue_kind=job.queue_kind,
            order_in_queue=(last or 0) + 1,
            status="queued",
            outputs="{}",
            recoveries=0,
        )
    )
    session.flush()  # the row exists for what the transaction does next (its spec, its position)


def store_checkpoint(session: Session, checkpoint: CheckpointInput) -> None:
    """Upsert the state saved after `phase` of this run, in the caller's transaction."""
    row = session.scalars(
        select(Checkpoint).where(Checkpoint.temporal_run_id == checkpoint.run_id, Checkpoint.phase == checkpoint.phase)
    ).first()
    if row is None:
        row = Checkpoint(temporal_run_id=checkpoint.run_id, issue_key=checkpoint.issue_key, phase=checkpoint.phase)
        session.add(row)
    row.state = checkpoint.state_json
    row.updated_at = utcnow()
