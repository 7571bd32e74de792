"""Reading the queue: a project's executing and queued jobs, one job's details (JSON-ready dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobqueue.order import IN_PROGRESS, QUEUED, claim_order
from app.store.models import AgentJob, ProjectQueue


@dataclass(frozen=True)
class JobView:
    """One agent job as the queue shows it (times are ISO 8601, UTC)."""

    job_id: str
    issue_key: str
    project_key: str
    phase: str
    attempt: int
    queue_kind: str
    position: int | None
    status: str
    agent_id: str | None
    temporal_workflow_id: str | None
    temporal_run_id: str | None
    pr_link: str | None
    error_kind: str | None
    error: str | None
    recoveries: int
    queued_by_orchestration: bool
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class QueueView:
    """A project's queue: paused or not, the jobs executing now, and the queued ones in the order they will run."""

    project_key: str
    paused: bool
    executing: list[JobView]
    queued: list[JobView]


def _iso(stamp: datetime | None) -> str | None:
    return stamp.isoformat() if stamp is not None else None


def as_view(job: AgentJob) -> JobView:
    """The view of a job row."""
    return JobView(
        job_id=job.id,
        issue_key=job.issue_key,
        project_key=job.project_key,
        phase=job.phase,
        attempt=job.attempt,
        queue_kind=job.queue_kind,
        position=job.order_in_queue,
        status=job.status,
        agent_id=job.agent_id,
        temporal_workflow_id=job.temporal_workflow_id,
        temporal_run_id=job.temporal_run_id,
        pr_link=job.pr_link,
        error_kind=job.error_kind,
        error=job.error,
        recoveries=job.recoveries,
        queued_by_orchestration=job.spec is not None,
        created_at=job.created_at.isoformat(),
        updated_at=job.updated_at.isoformat(),
        started_at=_iso(job.started_at),
        finished_at=_iso(job.finished_at),
    )


def queue_status(session: Session, project_key: str) -> QueueView:
    """Every executing and every queued job of the project (the seed's queue status), queued in claim order."""
    executing = session.scalars(
        select(AgentJob)
        .where(AgentJob.project_key == project_key, AgentJob.status == IN_PROGRESS)
        .order_by(AgentJob.started_at, AgentJob.id)
    )
    queued = session.scalars(
        select(AgentJob).where(AgentJob.project_key == project_key, AgentJob.status == QUEUED).order_by(*claim_order())
    )
    row = session.get(ProjectQueue, project_key)
    return QueueView(
        project_key=project_key,
        paused=bool(row and row.paused),
        executing=[as_view(job) for job in executing],
        queued=[as_view(job) for job in queued],
    )


def job_view(session: Session, job_id: str) -> JobView | None:
    """One job's details, or None."""
    job = session.get(AgentJob, job_id)
    return as_view(job) if job is not None else None
